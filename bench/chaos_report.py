"""The report of a run: bench/results/chaos.md, from the figures chaos.json holds."""

from __future__ import annotations

from typing import Any

from bench.chaos_settings import (
    AVAILABILITY_TARGET,
    MEASURES,
)


def markdown(r: dict[str, Any]) -> str:
    def ok(good: bool) -> str:
        return "yes" if good else "**MISS**"

    a, n = r["availability"], r["notifications"]
    lines = [
        "# `make chaos`",
        "",
        f"Run {r['run']} at {r['at']} (profile {r['profile']}): {r['citizens']} citizens and {len(r['analytics']['by_category'])} "
        f"categories' staff through nginx and two gateways; 3 Kafka brokers (RF 3, min ISR 2). Load for {r['load_s']} s, "
        f"{r['total_s']} s with the checks; {r['cores']} cores, load average {r['load_average_1m_start_end'][0]} at the start, "
        f"{r['load_average_1m_start_end'][1]} at the end (other work shares this machine).",
        "",
        "## Faults",
        "",
        "| fault | at (s) | recovery (s) | window (s) | requests in window | non-5xx in window | load avg |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {w['detail']} | {w['at_s']} | {w['recovery_s'] if w['recovery_s'] is not None else '**not recovered**'} | "
        f"{w['window_s']} | {w['requests']} | {w['non_5xx_share']} | {w['load_average_1m']} |"
        for w in r["faults"]
    ]
    rep, trans = r["reports"], r["transitions"]
    lines += [
        "",
        "## Ledger",
        "",
        "| check | figure | met |",
        "|---|---|---|",
        f"| reports: 202s stored exactly once | {rep['accepted']} accepted, {rep['stored']} stored, {len(rep['lost'])} lost, "
        f"{len(rep['stored_twice'])} twice, {len(rep['not_readable'])} not readable; {rep['stored_without_a_202_seen']} stored "
        f"whose 202 the client never saw | {ok(not rep['lost'] and not rep['stored_twice'] and not rep['not_readable'])} |",
        f"| photos: uploaded, processed, on their report | {r['photos']['accepted']} accepted, {len(r['photos']['misses'])} misses | {ok(not r['photos']['misses'])} |",
        f"| comments: each once in its list and the store | {r['comments']['accepted']} accepted, {len(r['comments']['misses'])} misses | {ok(not r['comments']['misses'])} |",
        f"| votes: counts equal the voters | {r['votes']['accepted']} accepted, {len(r['votes']['misses'])} wrong counts | {ok(not r['votes']['misses'])} |",
        f"| transitions: histories equal the 202s | {trans['accepted']} accepted, {len(trans['misses'])} misses | {ok(not trans['misses'])} |",
        f"| notifications: every expected email sent | {n['expected']} expected, {n['sent_distinct']} sent, {n['missing']} missing | {ok(n['missing'] == 0)} |",
        f"| notifications: duplicates <= kills, same Message-ID | {n['duplicates_same_message_id']} duplicates, {n['kills']} kills, "
        f"{n['unexpected_distinct']} extra with a new Message-ID | {ok(n['duplicates_same_message_id'] <= n['kills'] and n['unexpected_distinct'] == 0)} |",
        f"| analytics equal the ground truth | {len(r['analytics']['differences'])} differences over {len(r['analytics']['by_category'])} categories x {len(MEASURES)} counts | {ok(not r['analytics']['differences'])} |",
        f"| availability outside the fault windows >= {AVAILABILITY_TARGET:.1%} | {a['outside_non_5xx_share']} of {a['outside_windows']} requests "
        f"(inside the windows: {a['inside_non_5xx_share']} of {a['inside_windows']}) | {ok(a['outside_non_5xx_share'] is not None and a['outside_non_5xx_share'] >= AVAILABILITY_TARGET)} |",
        f"| consumer groups caught up | {r['consumer_lag_at_check']} | {ok(bool(r['consumer_lag_at_check']) and not any(r['consumer_lag_at_check'].values()))} |",
        "",
        f"Accepted: {r['accepted']}. Without a definite answer after the client's retries: {r['unanswered_after_retries']}. "
        f"Refused: {r['refused']}. Statuses seen: {dict(a['statuses'])}.",
        "",
        "Analytics (truth = the stored reports and histories; event log = issues.events.v1 counted by tests.analytics_history):",
        "",
        "| category | " + " | ".join(MEASURES) + " |",
        "|---|" + "---|" * len(MEASURES),
    ]
    for category, row in r["analytics"]["by_category"].items():
        cells = [f"{v['truth']} / {v['event_log']} / {v['analytics']}" for v in row.values()]
        lines.append(f"| {category} (truth / log / service) | " + " | ".join(cells) + " |")
    lines += ["", "## Misses", ""]
    lines += [f"- {m}" for m in r["misses"]] or ["None."]
    return "\n".join(lines) + "\n"
