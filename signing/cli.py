"""`lienthong pki init`, `lienthong sign`, `lienthong verify`: the signing subsystem's commands."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path

import typer

from schemas.parse import validate_package
from signing.inputs import PackageFacts, facts_for_file, facts_from_parsed
from signing.policy import describe
from signing.testing import pki as testpki
from signing.testing.pdfsign import sign_person_then_org
from signing.trust import TrustConfig, TrustConfigError
from signing.unwrap import ZIP_MAGIC, is_pdf
from signing.verdict import PackageVerdict, SignatureReport, Verdict
from signing.verifier import PackageVerifier

pki_app = typer.Typer(
    help="Test PKI (mirrors the Government CA hierarchy) / Hạ tầng khóa thử nghiệm.", no_args_is_help=True
)


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@pki_app.command("init")
def pki_init(
    directory: Path = typer.Argument(..., help="Where to write trust/ (roots, intermediates, crls) and signers/."),
) -> None:
    """Generate a test PKI: root "test Government CA", an intermediate, personal and organization
    certificates for sample signers and organs, expired / not-yet-valid / revoked / wrong-key-usage
    variants, an untrusted root, and current CRLs.  FOR TESTS ONLY: private keys are unencrypted."""
    trust = testpki.generate().write(directory)
    typer.echo(f"Thư mục tin cậy / trust directory: {trust}")
    typer.echo(f"Khóa và chứng thư người ký / signer keys and certificates: {directory / 'signers'}")
    for p in sorted((directory / "signers").glob("*.cert.pem")):
        typer.echo(f"  {p.name.removesuffix('.cert.pem')}")


def sign(
    pdf: Path = typer.Argument(..., exists=True, dir_okay=False, help="PDF to sign."),
    person: tuple[Path, Path] | None = typer.Option(
        None, "--person", help="KEY CERT of the competent person (signs first).", show_default=False
    ),
    org: tuple[Path, Path] | None = typer.Option(
        None, "--org", help="KEY CERT of the organization (signs second).", show_default=False
    ),
    output: Path = typer.Option(..., "-o", "--output", help="Signed PDF to write."),
) -> None:
    """Sign a PDF with PAdES: the person first, then the organization (Decree 30/2020 order).
    CERT may hold the chain after the certificate (as `pki init` writes it)."""
    if person is None and org is None:
        raise typer.BadParameter("give --person and/or --org")
    signed = sign_person_then_org(pdf.read_bytes(), _read_pair(person), _read_pair(org))
    output.write_bytes(signed)
    typer.echo(f"Đã ký / signed: {output}")


def _read_pair(paths: tuple[Path, Path] | None) -> tuple[bytes, bytes] | None:
    return (paths[0].read_bytes(), paths[1].read_bytes()) if paths else None


def verify(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="edXML package or PDF (or ZIP of PDFs)."),
    output_format: OutputFormat = typer.Option(OutputFormat.TEXT, "--format", help="text | json"),
    trust: Path = typer.Option(
        Path(os.environ.get("LIENTHONG_TRUST_DIR", "trust")),
        "--trust",
        help="Trust directory (roots/, intermediates/, crls/, trust.toml). Env: LIENTHONG_TRUST_DIR.",
    ),
    signer: str = typer.Option("", "--signer", help="For a bare PDF: expected SignerInfo/FullName."),
    organ_id: str = typer.Option("", "--organ-id", help="For a bare PDF: expected From/OrganId."),
    organ_name: str = typer.Option("", "--organ-name", help="For a bare PDF: expected From/OrganName."),
) -> None:
    """Verify the signatures of a package or PDF offline and print the verdict.
    Exit code 0 only when SIGNED (person and organization) / mã thoát 0 chỉ khi đã ký đủ."""
    try:
        config = TrustConfig.from_dir(trust)
    except TrustConfigError as exc:
        typer.echo(f"Cấu hình tin cậy sai / bad trust configuration ({trust}): {exc}", err=True)
        raise typer.Exit(2) from exc
    data = file.read_bytes()
    package: bytes | None
    if is_pdf(data) or data.startswith(ZIP_MAGIC):
        base = facts_for_file(file.name, data)
        facts = PackageFacts(signer, organ_id, organ_name, base.attachments)
        package = None
    else:
        report = validate_package(data)
        if report.parsed is None:
            typer.echo("Gói tin edXML không hợp lệ / invalid edXML package:", err=True)
            for finding in report.errors or report.findings:
                typer.echo(f"  {finding.code}: {finding.message}", err=True)
            raise typer.Exit(1)
        facts, package = facts_from_parsed(report.parsed), data
    verdict = PackageVerifier(config).verify(package, facts)
    if output_format is OutputFormat.JSON:
        vi, en = describe(verdict)
        typer.echo(json.dumps({**verdict.to_dict(), "message_vi": vi, "message_en": en}, ensure_ascii=False, indent=2))
    else:
        typer.echo(render_text(verdict))
    raise typer.Exit(0 if verdict.verdict is Verdict.SIGNED else 1)


def render_text(verdict: PackageVerdict) -> str:
    vi, en = describe(verdict)
    lines = [f"Kết quả / verdict: {verdict.verdict.value}", f"  {vi}", f"  {en}"]
    if verdict.xml_signature is not None:
        lines.append("Chữ ký XML của gói tin / package XML signature:")
        lines.append(_signature_line(verdict.xml_signature))
    for a in verdict.attachments:
        status = a.verdict.value if a.applicable else "không áp dụng / not a PDF"
        reason = f" ({a.reason.value})" if a.reason else ""
        lines.append(f"Tệp / attachment «{a.name}» [{a.detected_type}]: {status}{reason}")
        lines += [_signature_line(s) for s in a.signatures]
        lines += [f"    ghi chú / note: {n}" for n in a.notes]
    return "\n".join(lines)


def _signature_line(s: SignatureReport) -> str:
    state = "hợp lệ / valid" if s.valid else f"KHÔNG hợp lệ / INVALID {s.reason.value if s.reason else ''}"
    match = {True: "khớp / matches header", False: "KHÔNG khớp / does not match header", None: ""}[s.matches]
    when = f", {s.signing_time.isoformat()}" if s.signing_time else ""
    detail = f" — {s.detail}" if s.detail else ""
    return f"  - {s.field}: {s.kind.value} «{s.signer_subject}» ({s.organization}) {match}{when}: {state}{detail}"


def register(app: typer.Typer) -> None:
    app.add_typer(pki_app, name="pki")
    app.command("sign")(sign)
    app.command("verify")(verify)
