"""The local stack's choice of FerretDB backend (deploy/local/stack.py): which one a profile runs, and its ports."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.unit

PORT_SETTINGS = ("SNAPFIX_KAFKA_PORT", "SNAPFIX_MONGO_PORT", "SNAPFIX_REDIS_PORT", "SNAPFIX_S3_PORT")


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "deploy" / "local" / "stack.py"
    spec = importlib.util.spec_from_file_location("local_stack_store", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "STACK", tmp_path)
    for name in ("SNAPFIX_FERRETDB_BACKEND", "SNAPFIX_POSTGRESQL_PORT", "SNAPFIX_SMTP_SINK_PORT", *PORT_SETTINGS):
        monkeypatch.delenv(name, raising=False)
    return module


def test_make_run_and_bench_use_postgresql_and_make_test_stays_on_sqlite(stack: ModuleType) -> None:
    assert stack.choose_store("run", None) == "postgresql"
    assert stack.choose_store("bench", None) == "postgresql"
    assert stack.choose_store("test", None) == "sqlite"
    assert stack.choose_store("dev5", None) == "sqlite"


def test_the_flag_beats_the_setting_which_beats_what_the_profile_remembers(
    stack: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dev4").mkdir()
    (tmp_path / "dev4" / "store").write_text("postgresql")
    assert stack.choose_store("dev4", None) == "postgresql"
    assert stack.choose_store("dev4", None, fresh=True) == "sqlite"  # a fresh start forgets it
    monkeypatch.setenv("SNAPFIX_FERRETDB_BACKEND", "sqlite")
    assert stack.choose_store("dev4", None) == "sqlite"
    assert stack.choose_store("dev4", "postgresql") == "postgresql"


def test_a_profile_with_sqlite_data_from_before_the_choice_stays_on_sqlite(stack: ModuleType, tmp_path: Path) -> None:
    data = tmp_path / "run" / "ferretdb" / "data"
    data.mkdir(parents=True)
    (data / "issues.sqlite").write_bytes(b"")
    assert stack.choose_store("run", None) == "sqlite"
    assert stack.choose_store("run", None, fresh=True) == "postgresql"


def test_an_unknown_backend_is_refused(stack: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPFIX_FERRETDB_BACKEND", "mysql")
    with pytest.raises(ValueError, match="mysql"):
        stack.choose_store("run", None)


def test_postgresql_ports_collide_with_no_other_port_of_any_profile(stack: ModuleType) -> None:
    def ports(profile: str) -> set[int]:
        layout = stack.Layout(profile, kafka_nodes=3)
        kafka = {layout.kafka_port(n) + k for n in (1, 2, 3) for k in (0, 1, 2)}
        cluster = {layout.redis_cluster_port(n) + k for n in (1, 2, 3) for k in (0, 10)}
        # bench/store.py runs more FerretDB servers on the Mongo port + 1 and + 2.
        others = {layout.mongo_port + k for k in (0, 1, 2)} | {layout.redis_port, layout.s3_port, layout.smtp_port}
        apps = {layout.app_port(app) for app in stack.APPS} | {p + layout.base for p in stack.EDGE_PORTS.values()}
        return kafka | cluster | others | apps

    everything = set().union(*(ports(p) for p in stack.PORT_BASE))
    postgresql = {stack.Layout(p, kafka_nodes=1).postgresql_port for p in stack.PORT_BASE}
    assert len(postgresql) == len(stack.PORT_BASE)
    postgresql |= {port + 1 for port in postgresql}  # bench/store.py's second PostgreSQL server
    assert not postgresql & everything
    assert 5432 not in postgresql  # a system cluster on the default port never collides
