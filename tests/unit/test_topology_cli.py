"""`lienthong topology …` and `lienthong directory …` without a broker (apply is tested on the
real broker in tests/integration/test_topology_cli_apply.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from router.cli import app as lienthong
from router.directory.model import SAMPLE_DIRECTORY, load_directory
from router.topology.build import TopologyOptions, build_topology
from router.topology.definitions import export_definitions

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    return lienthong  # the root command: its error reporter turns DirectoryError into exit 2


def run(app: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_directory_check_accepts_the_sample(app: typer.Typer) -> None:
    code, out = run(app, "directory", "check", str(SAMPLE_DIRECTORY))
    assert code == 0
    assert "128 organs" in out and "truc-quoc-gia (gateway)" in out


def test_directory_check_lists_errors_by_entry(app: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = SAMPLE_DIRECTORY.read_text(encoding="utf-8").replace(
        "{code: 000.00.13.H41, name: Sở Thông tin và Truyền thông tỉnh Nghệ An}",
        "{code: 000.00.13.H41, name: Sở Thông tin và Truyền thông tỉnh Nghệ An, parent: 000.00.99.H41}",
    )
    bad.write_text(text, encoding="utf-8")
    code, out = run(app, "directory", "check", str(bad))
    assert code == 2
    assert "organs[13] (000.00.13.H41): parent 000.00.99.H41 not in directory" in out


def test_directory_resolve_shows_forwarding(app: typer.Typer) -> None:
    code, out = run(app, "directory", "resolve", "000.00.22.H41", "--on", "2025-01-01")
    assert code == 0
    assert "forwarded: 000.00.22.H41 → 000.00.21.H41" in out
    assert "Ủy ban nhân dân thành phố Vinh" in out


def test_topology_show_draws_every_exchange(app: typer.Typer) -> None:
    code, out = run(app, "topology", "show", "--prefix", "demo")
    assert code == 0
    for name in ("demo.level1", "demo.level4", "demo.unrouted", "demo.external", "demo.sys.huyen-thanhchuong"):
        assert name in out
    assert "H41.25.#" in out


def test_topology_show_traces_a_recipient(app: typer.Typer) -> None:
    code, out = run(app, "topology", "show", "--prefix", "demo", "--trace", "000.33.25.H41", "--lane", "urgent")
    assert code == 0
    assert "000.33.25.H41 → 000.32.25.H41 → 000.31.25.H41" in out
    assert "demo.level3 key H41.25.31.000" in out and "demo.sys.huyen-thanhchuong.urgent" in out
    code, out = run(app, "topology", "show", "--trace", "000.00.99.H41")
    assert code == 1 and "unknown_local" in out


def test_topology_export_writes_the_definitions(app: typer.Typer, tmp_path: Path) -> None:
    out_file = tmp_path / "defs.json"
    code, _ = run(app, "topology", "export", "--prefix", "demo", "--retry-delays", "5,10", "--out", str(out_file))
    assert code == 0
    want = export_definitions(
        build_topology(load_directory(SAMPLE_DIRECTORY), TopologyOptions(prefix="demo", retry_delays_s=(5, 10)))
    )
    assert json.loads(out_file.read_text(encoding="utf-8")) == json.loads(json.dumps(want))


def test_bad_options_are_reported(app: typer.Typer) -> None:
    code, out = run(app, "topology", "show", "--retry-delays", "0")
    assert code == 2 and "retry_delays_s" in out


@pytest.mark.parametrize("group", ["topology", "directory"])
def test_help(app: typer.Typer, group: str) -> None:
    code, out = run(app, group, "--help")
    assert code == 0 and "Usage" in out
