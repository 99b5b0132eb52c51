"""`lienthong pki init / sign / verify` end to end on real files, through the real CLI app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from router.cli import app
from signing.testing import pki as testpki
from tests.support import pki as S

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def _restore_logging() -> Iterator[None]:
    """The CLI's root callback configures structlog to print to the runner's stderr, which the
    runner closes afterwards: put the configuration back so later tests can still log."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    result = runner.invoke(app, ["pki", "init", str(d / "pki")])
    assert result.exit_code == 0, result.output
    (d / "plain.pdf").write_bytes(testpki.minimal_pdf())
    return d


def _signers(d: Path, name: str) -> list[str]:
    s = d / "pki" / "signers"
    return [str(s / f"{name}.key.pem"), str(s / f"{name}.cert.pem")]


def _sign(d: Path, out: str, *, person: str | None = "nguyen-van-mau", org: str | None = "org-nghe-an") -> Path:
    args = ["sign", str(d / "plain.pdf"), "-o", str(d / out)]
    if person:
        args += ["--person", *_signers(d, person)]
    if org:
        args += ["--org", *_signers(d, org)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return d / out


def test_pki_init_lays_out_trust_and_signers(pki_dir: Path) -> None:
    trust = pki_dir / "pki" / "trust"
    assert [p.name for p in (trust / "roots").iterdir()] == ["test-government-ca.pem"]
    assert {p.name for p in (trust / "crls").iterdir()} == {"intermediate.crl", "root.crl"}
    names = {p.name.removesuffix(".cert.pem") for p in (pki_dir / "pki" / "signers").glob("*.cert.pem")}
    assert {"nguyen-van-mau", "hoang-van-vi-du", "org-nghe-an", "expired", "not-yet-valid", "revoked"} <= names


def test_sign_then_verify_signed_pdf_exits_0(pki_dir: Path) -> None:
    signed = _sign(pki_dir, "signed.pdf")
    result = runner.invoke(
        app, ["verify", str(signed), "--trust", str(pki_dir / "pki" / "trust"), "--signer", "Nguyễn Văn Mẫu"]
    )
    assert result.exit_code == 0, result.output
    assert "SIGNED" in result.output
    assert "đã ký số (cá nhân và cơ quan)" in result.output


def test_verify_person_only_exits_1_with_json(pki_dir: Path) -> None:
    signed = _sign(pki_dir, "person.pdf", org=None)
    result = runner.invoke(app, ["verify", str(signed), "--trust", str(pki_dir / "pki" / "trust"), "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["verdict"] == "PARTIALLY_SIGNED"
    assert report["attachments"][0]["signatures"][0]["signer_subject"] == "Nguyễn Văn Mẫu"
    assert "chỉ có một trong hai chữ ký số" in report["message_vi"]


def test_verify_tampered_package_names_attachment_and_reason(pki_dir: Path) -> None:
    signed = _sign(pki_dir, "tamper.pdf").read_bytes()
    package = pki_dir / "tampered.edxml"
    package.write_bytes(S.package(S.blob(S.add_annotation(signed))))
    result = runner.invoke(app, ["verify", str(package), "--trust", str(pki_dir / "pki" / "trust")])
    assert result.exit_code == 1
    assert "MODIFIED_AFTER_SIGNING" in result.output
    assert "1234-UBND-KGVX.pdf" in result.output


def test_verify_refuses_hard_fail_without_crls(pki_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "roots").mkdir()
    (tmp_path / "roots" / "r.pem").write_bytes(
        (pki_dir / "pki" / "trust" / "roots" / "test-government-ca.pem").read_bytes()
    )
    (tmp_path / "trust.toml").write_text('revocation = "hard-fail"\n')
    result = runner.invoke(app, ["verify", str(pki_dir / "plain.pdf"), "--trust", str(tmp_path)])
    assert result.exit_code == 2
    assert "hard-fail" in result.output


@pytest.mark.parametrize("command", [["pki", "init"], ["sign"], ["verify"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output
