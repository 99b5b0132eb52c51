"""`lienthong report` as an operator runs it, on a real SQLite ledger with known answers: every
format carries the same figures, the XLSX opens in openpyxl, the CSV opens in Excel (BOM), and
the HTML renders its tables and charts in headless Chromium with no network request."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from router.cli import app
from router.ledger import Ledger
from tests.support.compliance_ledger import PROVINCE, A, build, rules_file
from tests.support.ops_tools import tool
from tests.support.png import pixels

pytestmark = pytest.mark.integration

LIENTHONG = str(Path(sys.executable).parent / "lienthong")


@pytest.fixture(scope="module")
def ledger_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("report") / "ledger.db"
    with Ledger.open(f"sqlite:///{path}") as ledger:
        build(ledger)
    return f"sqlite:///{path}"


@dataclass
class Ran:
    returncode: int
    stdout: bytes
    stderr: bytes


def _run(ledger_url: str, tmp: Path, *args: str, process: bool = False) -> Ran:
    """The real `lienthong report`: in process (fast), or as a process in the C locale of a
    bare server (`process=True`: Vietnamese must still come out as UTF-8)."""
    argv = ["report", "--period", "2025-04", "--ledger", ledger_url, "--rules", str(rules_file(tmp)),
            "--as-of", "2025-05-15T08:00+07:00", *args]
    if process:
        proc = subprocess.run([LIENTHONG, *argv], capture_output=True, timeout=120, check=False,
                              env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
        return Ran(proc.returncode, proc.stdout, proc.stderr)
    result = CliRunner().invoke(app, argv)
    return Ran(result.exit_code, result.stdout_bytes, result.stderr_bytes or b"")


def _json(ledger_url: str, tmp: Path) -> dict[str, object]:
    proc = _run(ledger_url, tmp, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.decode("utf-8"))  # type: ignore[no-any-return]


def test_json_and_xlsx_hold_the_same_numbers(ledger_url: str, tmp_path: Path) -> None:
    data = _json(ledger_url, tmp_path)
    units = {u["code"]: u for u in data["units"]}  # type: ignore[attr-defined]
    assert units[A]["late"] == 2 and units[A]["late_flag"] is True
    out = tmp_path / "report.xlsx"
    proc = _run(ledger_url, tmp_path, "--format", "xlsx", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "2 vượt ngưỡng" in proc.stderr.decode("utf-8")
    sheet = load_workbook(out)["Đơn vị"]
    header = [c.value for c in sheet[3]]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=4, values_only=True)}
    assert set(rows) == set(units)
    for code, unit in units.items():
        row = rows[code]
        assert row["Tên đơn vị"] == unit["name"]
        assert row["Trễ hạn (late)"] == unit["late"]
        assert row["Tỷ lệ trễ hạn (late share)"] == unit["late_share"]
        assert row["Tỷ lệ chưa ký số (unsigned share)"] == unit["unsigned_share"]
        assert row["Văn bản gửi (documents sent)"] == unit["sent"]
        assert bool(row["Vượt ngưỡng / flag"]) == (unit["late_flag"] or unit["unsigned_flag"])
    assert rows[A]["Tên đơn vị"] == "Ủy ban nhân dân huyện Thanh Chương"


def test_csv_has_a_bom_and_thresholds_are_configurable(ledger_url: str, tmp_path: Path) -> None:
    proc = _run(ledger_url, tmp_path, "--format", "csv", "--late-threshold", "0.7", "--unsigned-threshold", "0.6",
                process=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"\xef\xbb\xbf")
    rows = {r["Mã đơn vị"]: r for r in csv.DictReader(io.StringIO(proc.stdout.decode("utf-8-sig")))}
    assert rows[A]["Vượt ngưỡng trễ hạn"] == "0"  # 66.7% is not above 70%
    assert rows[PROVINCE]["Vượt ngưỡng chưa ký số"] == "0"  # 50% is not above 60%
    assert rows[A]["Tên đơn vị"] == "Ủy ban nhân dân huyện Thanh Chương"


def test_operator_mistakes_are_one_line(ledger_url: str, tmp_path: Path) -> None:
    bad = _run(ledger_url, tmp_path, "--period", "2025-13", process=True)
    assert bad.returncode == 2 and bad.stderr.decode().count("\n") == 1 and b"Traceback" not in bad.stderr
    missing = subprocess.run([LIENTHONG, "report", "--period", "2025-04", "--ledger",
                              f"sqlite:///{tmp_path / 'none.db'}"], capture_output=True, timeout=60, check=False)
    assert missing.returncode == 2 and b"ledger not found" in missing.stderr
    assert not (tmp_path / "none.db").exists()


# -- the HTML page in a real browser ----------------------------------------------------------


#: Chromium's own service calls (clock check, component updater, account sign-in), which it makes
#: whatever page is open: not the report's. A CDN (fonts.gstatic.com, cdn.*) is not among them.
BROWSER_OWN = re.compile(r"^(GET|POST|CONNECT) (http://)?(clients2\.google\.com|update\.googleapis\.com"
                         r"|accounts\.google\.com)[:/]")


class _Trap(BaseHTTPRequestHandler):
    """A proxy every browser request is sent to: any request it sees is a network request."""

    seen: ClassVar[list[str]] = []

    def _any(self) -> None:
        type(self).seen.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.end_headers()

    do_GET = do_POST = do_CONNECT = do_HEAD = _any

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def chromium() -> str:
    return tool("chromium")


@pytest.fixture
def trap() -> Iterator[tuple[int, list[str]]]:
    _Trap.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trap)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Trap.seen
    server.shutdown()
    server.server_close()


def test_html_renders_offline_in_headless_chromium(
    ledger_url: str, tmp_path: Path, chromium: str, trap: tuple[int, list[str]]
) -> None:
    page = tmp_path / "báo cáo.html"
    proc = _run(ledger_url, tmp_path, "--format", "html", "--output", str(page))
    assert proc.returncode == 0, proc.stderr
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "<link" not in html and "url(" not in html
    assert html.replace('xmlns="http://www.w3.org/2000/svg"', "").count("http") == 0
    port, seen = trap
    browser = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-domain-reliability", "--no-pings", "--disable-client-side-phishing-detection",
               "--disable-default-apps", "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
               f"--proxy-server=http://127.0.0.1:{port}", "--proxy-bypass-list=<-loopback>",
               f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1600,2400"]
    dom = subprocess.run([*browser, "--dump-dom", page.as_uri()], capture_output=True, timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout.decode("utf-8")
    assert 'id="units"' in text and "Ủy ban nhân dân huyện Thanh Chương" in text
    assert text.count('class="flag"') == 2  # A (late) and the province (unsigned)
    assert 'id="chart-districts"' in text and 'id="chart-weeks"' in text and text.count('class="bar"') > 10
    shot = tmp_path / "shot.png"
    run = subprocess.run([*browser, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120,
                         check=False)
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    colours = pixels(shot)
    assert colours[(0xC0, 0x39, 0x2B)] > 200 and colours[(0x2C, 0x6F, 0xBB)] > 200  # late and unsigned bars
    assert colours[(0xFD, 0xE8, 0xE8)] > 500  # the flagged rows' fill
    page_requests = [r for r in seen if not BROWSER_OWN.search(r)]
    assert page_requests == [], f"the page made network requests: {page_requests}"
