"""The Kubernetes manifests validate offline: every overlay renders with kustomize, and every rendered
resource matches its schema.

Built-in kinds are checked against the Kubernetes OpenAPI schemas that the
``kubernetes-validate`` package bundles (strict: unknown fields fail); the operators'
custom resources against deploy/k8s/schemas (see its README) and Strimzi's published CRDs.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy.k8s import K8S, OVERLAYS, render
from tests.deploy.tools import STACK_ARTIFACTS, tool

pytestmark = pytest.mark.deploy


# The oldest Kubernetes minor we support (native sidecars, CronJob timeZone GA) and the newest bundled.
K8S_VERSIONS = ("1.30.0", kubernetes_validate.utils.latest_version())
CUSTOM_GROUPS = ("kafka.strimzi.io", "psmdb.percona.com", "redis.redis.opstreelabs.in")


@pytest.fixture(scope="module", autouse=True)
def _schemas_parsed_once() -> Iterator[None]:
    """kubernetes-validate parses its (large) definitions file on every call; keep each one parsed."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kubernetes_validate.utils, "schema_contents", cache(kubernetes_validate.utils.schema_contents))
        yield


def custom_schema(doc: dict[str, Any]) -> dict[str, Any]:
    group, version = doc["apiVersion"].split("/")
    path = K8S / "schemas" / f"{group}_{version}_{doc['kind'].lower()}.yaml"
    assert path.exists(), f"no schema for {doc['apiVersion']} {doc['kind']} (expected {path.name})"
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_resource_matches_its_schema(overlay: str) -> None:
    docs = render(overlay)
    assert len(docs) > 40
    failures = []
    for doc in docs:
        name = f"{doc['kind']}/{doc['metadata'].get('namespace', '-')}/{doc['metadata']['name']}"
        if doc["apiVersion"].split("/")[0] in CUSTOM_GROUPS:
            errors = list(jsonschema.Draft202012Validator(custom_schema(doc)).iter_errors(doc))
            failures += [f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                failures.append(f"{name} (k8s {version}): {'/'.join(map(str, exc.path))}: {exc.message}")
    assert not failures, "\n".join(failures)


def strimzi_validation(docs: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """Strimzi's published CRDs, as the validators @kubernetes-models generates from them (install.sh)."""
    script = STACK_ARTIFACTS / "strimzi-validators" / "validate.mjs"
    if not script.exists():
        pytest.fail(f"{script} is missing: run deploy/local/install.sh")
    return subprocess.run(
        [str(tool("node")), str(script)],
        input="".join(json.dumps(d) + "\n" for d in docs),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_strimzi_resources_match_strimzis_published_crds(overlay: str) -> None:
    docs = [d for d in render(overlay) if d["apiVersion"].startswith("kafka.strimzi.io/")]
    out = strimzi_validation(docs)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(docs)} valid, 0 invalid" in out.stdout


def test_strimzis_crds_refuse_a_wrong_type() -> None:
    topic = next(d for d in render("prod") if d["kind"] == "KafkaTopic")
    wrong = {**topic, "spec": {**topic["spec"], "partitions": "24"}}
    out = strimzi_validation([wrong])
    assert out.returncode == 1
    assert "partitions must be integer" in out.stdout


def test_a_custom_resource_with_an_unknown_field_is_refused() -> None:
    """The custom schemas really constrain: a misspelt Kafka setting fails."""
    kafka = yaml.safe_load((K8S / "data" / "kafka.yaml").read_text().split("---")[-1])
    assert jsonschema.Draft202012Validator(custom_schema(kafka)).is_valid(kafka)
    kafka["spec"]["kafka"]["listners"] = []
    assert not jsonschema.Draft202012Validator(custom_schema(kafka)).is_valid(kafka)


def test_the_generated_manifests_are_current() -> None:
    """base/apps and data/kafka-topics.yaml are what deploy/k8s/render.py makes of the catalogue."""
    out = subprocess.run(
        ["python", str(K8S / "render.py"), "--check"], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
