"""Sinks by registry: the directory's `delivery.adapter` and `options` decide which sink the hub
builds, and `lienthong directory check` refuses exactly the directories `run` cannot build."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from adapters.folder import FolderSink
from adapters.registry import SINKS, FileOptions, SinkPlace
from router.directory.model import SAMPLE_DIRECTORY, DirectoryError, load_directory
from router.hub import build_sinks
from tests.support.procs import LIENTHONG

pytestmark = pytest.mark.unit


def _with_delivery(tmp_path: Path, system: str, delivery: dict[str, object]) -> Path:
    data = yaml.safe_load(SAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    for s in data["systems"]:
        if s["id"] == system:
            s["delivery"] = delivery
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_the_hub_builds_the_sinks_the_directory_names(tmp_path: Path) -> None:
    path = _with_delivery(tmp_path, "huyen-thanhchuong", {"adapter": "file", "options": {"dir": "/srv/out/huyen"}})
    sinks = build_sinks(load_directory(path), tmp_path)
    assert set(sinks) == {"tinh-nghean", "huyen-thanhchuong", "truc-quoc-gia"}
    assert all(isinstance(s, FolderSink) for s in sinks.values())
    folders = {sid: s.directory for sid, s in sinks.items() if isinstance(s, FolderSink)}
    assert folders["tinh-nghean"] == tmp_path / "var" / "deliver" / "tinh-nghean"  # relative: deliver root
    assert folders["huyen-thanhchuong"] == Path("/srv/out/huyen")


def test_file_options_default_to_a_folder_per_system(tmp_path: Path) -> None:
    sink = SINKS.build("file", FileOptions(), SinkPlace("xa-thanhhung", tmp_path))
    assert isinstance(sink, FolderSink) and sink.directory == tmp_path / "var" / "deliver" / "xa-thanhhung"
    assert "file" in SINKS.names and SINKS.names == tuple(sorted(SINKS.names))


def test_building_with_another_adapters_options_is_a_bug() -> None:
    from adapters.registry import SinkOptions

    with pytest.raises(TypeError, match="expected FileOptions"):
        SINKS.build("file", SinkOptions(), SinkPlace("tinh-nghean", Path(".")))


def test_directory_check_refuses_what_run_cannot_build(tmp_path: Path) -> None:
    """`adapter: http` is not in this build: `directory check` says so in one line naming the
    system and the adapters there are (exit 2), and the hub's loader refuses the same."""
    path = _with_delivery(tmp_path, "huyen-thanhchuong", {"adapter": "http", "options": {"url": "https://x/"}})
    done = subprocess.run([str(LIENTHONG), "directory", "check", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    expected = ("systems[1] (huyen-thanhchuong): delivery.adapter 'http' is not available in this build "
                f"(adapters: {', '.join(SINKS.names)})")
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr.splitlines()[-1] and "Traceback" not in done.stderr
    with pytest.raises(DirectoryError) as info:
        load_directory(path)  # what `lienthong run` (Hub.from_settings) loads
    assert [e.strip() for e in info.value.errors] == [expected]


def test_a_misspelt_option_is_refused_not_ignored(tmp_path: Path) -> None:
    path = _with_delivery(tmp_path, "tinh-nghean", {"adapter": "file", "options": {"path": "/srv/out/tinh"}})
    with pytest.raises(DirectoryError) as info:
        load_directory(path)
    assert info.value.errors == [
        "systems[0] (tinh-nghean): delivery.options.path is not an option of the file adapter: "
        "the inbox folder is `dir`"
    ]
