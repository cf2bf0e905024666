"""`make bench` report: bench/results/latest.md, every phase's figures against their targets in one table."""

from __future__ import annotations

import statistics
from typing import Any


def markdown(results: dict[str, Any]) -> str:
    a, r, c, g = results["accept"], results["readable"], results["consumer"], results["reads"]
    rows = [
        (
            "bare FastAPI POST, 1 worker (median req/s)",
            _median(a["bare"], "throughput_rps", 1),
            "",
        ),
        (
            "gateway accept path, 1 worker (median req/s)",
            _median(a["gateway"], "throughput_rps", 1),
            "",
        ),
        ("gateway / bare", a["gateway_over_bare"], ">= 0.6"),
    ]
    if a.get("keyed"):  # each report with its own Idempotency-Key, measured since stop 27
        keyed_half = a["keyed_at_gateway_half_peak"]
        rows += [
            (
                "the same, each report with its own Idempotency-Key, as phones send them (median req/s)",
                _median(a["keyed"], "throughput_rps", 1),
                "",
            ),
            ("keyed / bare", a["keyed_over_bare"], ""),
            (
                "CPU per keyed report, all processes, while measured (median ms)",
                _median(a["keyed"], "cpu_ms_per_request_all", 2),
                "",
            ),
            (
                f"keyed accept p50 / p99 at the gateway's half peak, {keyed_half['rate']} req/s (ms)",
                f"{keyed_half['p50_ms']} / {keyed_half['p99_ms']}",
                "",
            ),
        ]
    if "floor" in a:  # the produce floor and the consumer's share, measured since stop 23
        rows += [
            (
                "floor: bare POST + one Kafka produce acked (acks=all), 1 worker (median req/s)",
                _median(a["floor"], "throughput_rps", 1),
                "",
            ),
            ("floor / bare", a["floor_over_bare"], ""),
            ("gateway / floor", a["gateway_over_floor"], ""),
            (
                "consumer work per accepted report, measured as the paused issues service caught up (CPU ms)",
                a["consumer_work"]["cpu_ms_per_report_all"],
                "",
            ),
            (
                "CPU per accepted report, all processes, its consumer work included (ms)",
                a["cpu_ms_per_report_all_work"],
                "<= 3",
            ),
            (
                "gateway accept path with the issues consumer working through a backlog on the same core (req/s)",
                a["gateway_with_consumer_working"]["throughput_rps"],
                "",
            ),
        ]
    rows += [
        (
            "CPU per accepted report, all processes, while the gateway was measured (median ms)",
            _median(a["gateway"], "cpu_ms_per_request_all", 2),
            "" if "floor" in a else "<= 3",
        ),
        ("gateway p99 at full throttle (ms)", max(x["p99_ms"] for x in a["gateway"]), ""),
        (
            f"gateway accept p50 / p99 at {a['gateway_at_half_peak']['rate']} req/s (half peak, ms"
            f"{_of_runs(a.get('gateway_at_half_peak_p99s_ms'))})",
            f"{a['gateway_at_half_peak']['p50_ms']} / {a['gateway_at_half_peak']['p99_ms']}",
            "p99 <= 25",
        ),
        *(
            [
                (
                    f"floor p50 / p99 at the same {a['floor_at_gateway_half_peak']['rate']} req/s (ms"
                    f"{_of_runs(a.get('floor_at_gateway_half_peak_p99s_ms'))})",
                    f"{a['floor_at_gateway_half_peak']['p50_ms']} / {a['floor_at_gateway_half_peak']['p99_ms']}",
                    "",
                )
            ]
            if "floor_at_gateway_half_peak" in a
            else []
        ),
        *_cpu_at_half_peak(a),
        *_dependencies_on_server_core(a),
        (
            f"accepted -> readable p50 / p99 at {r['rate']} reports/s offered, {r['accepted']} of {r['reports']} accepted (ms)",
            f"{r['readable_p50_ms']} / {r['readable_p99_ms']}",
            "p99 <= 100 at 500/s",
        ),
        ("accept p50 / p99 in that run (ms)", f"{r['accept_p50_ms']} / {r['accept_p99_ms']}", ""),
        ("raw pipeline: consume + insert_many + produce (commands/s)", c["raw_pipeline_commands_per_s"], ""),
        ("issues consumer (commands/s)", c["consumer_commands_per_s"], ">= 5000"),
        ("consumer / raw", c["consumer_over_raw"], ">= 0.7"),
    ]
    if "raw_pipeline_chunked_commands_per_s" in c:
        rows += [
            (
                f"raw pipeline in the service's shape, concurrent chunks of {c['chunk']} (commands/s)",
                c["raw_pipeline_chunked_commands_per_s"],
                "",
            ),
            ("consumer / raw in the service's shape", c["consumer_over_raw_chunked"], ""),
            (
                "CPU per command, all processes: consumer / raw (ms)",
                f"{c['cpu_ms_per_command_all']['consumer']} / {c['cpu_ms_per_command_all']['raw_pipeline']}",
                "",
            ),
        ]
    rows += [
        (
            "bare FastAPI GET (median req/s)",
            _median(g["bare_get"], "throughput_rps", 1),
            "",
        ),
        (
            "GET /v1/issues/{id} through the gateway, anonymous: from its edge cache (median req/s)",
            _median(g["gateway_get"], "throughput_rps", 1),
            "",
        ),
        ("gateway GET / bare GET", g["gateway_get_over_bare"], ">= 0.6"),
    ]
    if "edge_get" in g:
        rows += [
            (
                "the same, signed in: read through to the issues service's rendered bytes (median req/s)",
                _median(g["gateway_get_signed_in"], "throughput_rps", 1),
                "",
            ),
            ("signed-in gateway GET / bare GET", g["gateway_get_signed_in_over_bare"], ""),
            (
                "anonymous GET through the nginx edge (TLS 1.3) in front of the gateway (median req/s)",
                _median(g["edge_get"], "throughput_rps", 1),
                "",
            ),
            ("edge GET / bare GET", g["edge_get_over_bare"], ""),
        ]
    rows += [
        (
            f"nearby search, {g['seeded_reports']} reports within 1 km (req/s at full throttle)",
            g["nearby_peak"]["throughput_rps"],
            "",
        ),
        (
            f"nearby search p50 / p99 at {g['nearby_at_half_peak']['rate']} req/s (ms)",
            f"{g['nearby_at_half_peak']['p50_ms']} / {g['nearby_at_half_peak']['p99_ms']}",
            "",
        ),
    ]
    if m := results.get("media"):
        rows += [
            (f"image pipeline, {m['image']} (images/s per core)", m["images_per_s_per_core"], ""),
            ("image pipeline peak memory per image (MiB)", m["peak_memory_mib_per_image"], ""),
        ]
    if nt := results.get("notify"):
        rows += [
            (
                f"notify, one instance, {nt['events']} events -> emails accepted (notifications/s)",
                nt["notifications_per_s"],
                "",
            ),
            ("the SMTP sink fed directly (messages/s)", nt["sink_direct_per_s"], ""),
        ]
    if an := results.get("analytics"):
        rows += [
            (f"analytics, one instance, {an['events']} issue events (events/s)", an["analytics_events_per_s"], ""),
            ("raw consume of the same records (events/s)", an["raw_consume_events_per_s"], ""),
        ]
    lines = [
        f"# SnapFix benchmarks ({results['when']}, {results['machine']})",
        "",
        "| measure | value | target |",
        "|---|---|---|",
    ]
    lines += [f"| {m} | {v} | {t} |" for m, v, t in rows]
    lines += [
        "",
        f"Failures in the readable run: {r['failures'] or 'none'}. Readable = IssueReported seen on the topic (the report is stored before it is announced); 200 of them are then read back by GET through the gateway.",
        "",
    ]
    return "\n".join(lines)


def _of_runs(p99s: list[float] | None) -> str:
    """Which run a row shows, when there were several: the one with the median p99."""
    if not p99s:
        return ""
    return f"; the run with the median p99 of {len(p99s)}, whose p99s were {', '.join(map(str, p99s))}"


def _cpu_at_half_peak(a: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """What one request costs the server's own process at full throttle and at half of it: on this
    machine a request costs more CPU the fewer arrive (a bare endpoint too), so half of the peak
    rate keeps the core more than half as busy."""
    floor_half = a.get("floor_at_gateway_half_peak", {}).get("cpu_ms_per_request")
    gateway_half = a["gateway_at_half_peak"].get("cpu_ms_per_request")
    if not floor_half or not gateway_half or not a.get("floor"):
        return []

    def peak(name: str) -> float:
        return round(statistics.median(x["cpu_ms_per_request"][name] for x in a[name]), 3)

    return [
        (
            "CPU per request of the server process, gateway / floor: at full throttle; at half peak (ms)",
            f"{peak('gateway')} / {peak('floor')}; {gateway_half['gateway']} / {floor_half['floor']}",
            "",
        ),
        (
            "CPU per request, all processes, at half peak: gateway / floor (ms)",
            f"{a['gateway_at_half_peak']['cpu_ms_per_request_all']} / {a['floor_at_gateway_half_peak']['cpu_ms_per_request_all']}",
            "",
        ),
    ]


def _dependencies_on_server_core(a: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """The same targets with the broker and Redis on the servers' core, as every bench before stop 37
    ran them: each of their requests and pauses then lands on the measured server's core."""
    d = a.get("dependencies_on_server_core")
    if not d:
        return []
    return [
        (
            "the broker and Redis on the servers' core (as before stop 37), one round: gateway / bare; floor / bare",
            f"{d['gateway_over_bare']}; {d['floor_over_bare']}",
            "",
        ),
        (
            f"the same placement, p99 at {d['gateway_at_half_peak']['rate']} req/s: gateway; floor (ms; the median "
            f"of {len(d['gateway_at_half_peak_p99s_ms'])} runs each, whose p99s were "
            f"{', '.join(map(str, d['gateway_at_half_peak_p99s_ms']))}; {', '.join(map(str, d['floor_at_half_peak_p99s_ms']))})",
            f"{d['gateway_at_half_peak']['p99_ms']}; {d['floor_at_half_peak']['p99_ms']}",
            "",
        ),
    ]


def _median(runs: list[dict[str, Any]], field: str, digits: int) -> float:
    """The median of one figure over a phase's interleaved runs."""
    return round(statistics.median(run[field] for run in runs), digits)
