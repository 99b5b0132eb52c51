from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from router.cli import app
from tests.support.samples import ALL, EDOC_1, EDOC_2, SAMPLES, replace_once, sample_text

pytestmark = pytest.mark.unit
runner = CliRunner()


def _bad_file(tmp_path: Path) -> Path:
    bad = tmp_path / "bad.xml"
    bad.write_text(
        replace_once(sample_text(EDOC_1), "<edXML:Priority>0</edXML:Priority>", "<edXML:Priority>9</edXML:Priority>"),
        encoding="utf-8",
    )
    return bad


def test_validate_all_samples_exit_0() -> None:
    result = runner.invoke(app, ["validate", *[str(SAMPLES / n) for n in ALL]])
    assert result.exit_code == 0, result.output
    assert result.output.count("HỢP LỆ / VALID") == len(ALL)


def test_validate_json_one_object_per_file(tmp_path: Path) -> None:
    bad = _bad_file(tmp_path)
    result = runner.invoke(app, ["validate", "--profile", "strict", "--format", "json", str(SAMPLES / EDOC_1),
                                 str(bad)])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [r["valid"] for r in lines] == [True, False]
    assert set(lines[1]) == {"file", "valid", "kind", "document_id", "errors", "warnings"}
    err = lines[1]["errors"][0]
    assert set(err) == {"code", "severity", "path", "line", "message", "vi", "en"}
    assert err["code"] == "CODE_LIST_VALUE"
    assert err["path"] == "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/OtherInfo/Priority"
    assert isinstance(err["line"], int)
    assert lines[0]["document_id"] == "000.00.00.H41,2025/03/14,1234/UBND-KGVX"


def test_the_default_profile_warns_where_strict_refuses(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--format", "json", str(_bad_file(tmp_path))])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output)
    assert line["valid"] and not line["errors"]
    assert [(w["code"], w["severity"]) for w in line["warnings"]] == [("CODE_LIST_VALUE", "warning")]
    assert runner.invoke(app, ["validate", "--profile", "lax", str(_bad_file(tmp_path))]).exit_code == 2


def test_validate_text_names_field_line_and_both_languages(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "-p", "strict", str(_bad_file(tmp_path))])
    assert result.exit_code == 1
    assert "CODE_LIST_VALUE" in result.output
    assert "OtherInfo/Priority" in result.output
    assert "dòng/line" in result.output
    assert "bảng mã" in result.output and "code list" in result.output


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["validate", str(tmp_path / "missing.xml")]).exit_code == 2
    assert runner.invoke(app, ["validate", "--format", "yaml", str(SAMPLES / EDOC_1)]).exit_code == 2
    assert runner.invoke(app, ["validate"]).exit_code == 2


def test_warnings_do_not_invalidate(tmp_path: Path) -> None:
    f = tmp_path / "legacy.xml"
    f.write_text(
        replace_once(sample_text(EDOC_1), "<edXML:DueDate>2025/03/28<", "<edXML:DueDate>28/03/2025<"), encoding="utf-8"
    )
    result = runner.invoke(app, ["validate", str(f)])
    assert result.exit_code == 0
    assert "DATE_LEGACY_FORMAT" in result.output


def test_inspect_shows_recipients_with_levels_and_attachment_types() -> None:
    result = runner.invoke(app, ["inspect", str(SAMPLES / EDOC_2)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "000.31.25.H41 (cấp 3)" in out
    assert "Ủy ban nhân dân xã Thanh Hưng" in out
    assert "1 Khẩn" in out
    assert "2025/04/30" in out
    assert "detected pdf" in out


@pytest.mark.parametrize("command", [[], ["validate"], ["inspect"]])
def test_help_everywhere(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_console_script_runs_utf8_end_to_end() -> None:
    exe = Path(sys.executable).parent / "lienthong"
    proc = subprocess.run(
        [str(exe), "inspect", str(SAMPLES / EDOC_1)], capture_output=True, check=False, timeout=60,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "Ủy ban nhân dân tỉnh Nghệ An" in proc.stdout.decode("utf-8")
