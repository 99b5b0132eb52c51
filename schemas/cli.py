"""`lienthong validate` and `lienthong inspect`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from schemas.findings import Severity
from schemas.models import EdocPackage, Organization, StatusPackage
from schemas.organ import OrganId
from schemas.parse import ValidationReport, validate_package
from schemas.policy import ValidationOptions
from schemas.profiles import Profile

FILES = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="edXML package file(s)")


def _read(path: Path, options: ValidationOptions | None = None) -> ValidationReport:
    with path.open("rb") as fh:
        return validate_package(fh, options)


PROFILE = typer.Option(
    Profile.DEFAULT.value, "--profile", "-p",
    help="default (refuse what is unsafe or unroutable, warn about the rest) or strict (full QCVN: "
         "every finding of the standard refuses); a system's profile is `validation:` in the directory",
)


def validate(
    files: list[Path] = FILES,
    fmt: str = typer.Option("text", "--format", "-f", help="text (for people) or json (one object per line)"),
    profile: str = PROFILE,
) -> None:
    """Validate edXML edoc/status packages: XSD + business rules (QCVN 102:2016).

    Exit 0 when every file is valid, 1 when any is invalid, 2 on usage errors.
    Warnings never make a file invalid; which findings are warnings depends on --profile.
    """
    if fmt not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--format")
    if profile not in {p.value for p in Profile}:
        raise typer.BadParameter("must be default or strict", param_hint="--profile")
    options = ValidationOptions(profile=Profile(profile))
    any_invalid = False
    for path in files:
        report = _read(path, options)
        any_invalid |= not report.valid
        if fmt == "json":
            typer.echo(json.dumps(_as_json(path, report), ensure_ascii=False))
        else:
            _print_text(path, report)
    raise typer.Exit(1 if any_invalid else 0)


def _as_json(path: Path, r: ValidationReport) -> dict[str, object]:
    return {
        "file": str(path),
        "valid": r.valid,
        "kind": r.kind,
        "document_id": r.document_id,
        "errors": [f.model_dump(mode="json") for f in r.errors],
        "warnings": [f.model_dump(mode="json") for f in r.warnings],
    }


def _print_text(path: Path, r: ValidationReport) -> None:
    head = "HỢP LỆ / VALID" if r.valid else "KHÔNG HỢP LỆ / INVALID"
    kind = f" [{r.kind}]" if r.kind else ""
    doc = f" {r.document_id}" if r.document_id else ""
    typer.echo(f"{path}: {head}{kind}{doc}")
    for f in r.findings:
        sev = "LỖI/ERROR" if f.severity is Severity.ERROR else "CẢNH BÁO/WARNING"
        line = f", dòng/line {f.line}" if f.line else ""
        typer.echo(f"  {sev} {f.code.value} tại/at {f.path}{line}")
        typer.echo(f"    {f.message}")


def _org_line(o: Organization) -> str:
    level = f"cấp {OrganId.parse(o.organ_id).level}" if OrganId.is_valid(o.organ_id) else "mã không hợp lệ"
    return f"{o.organ_id} ({level}) {o.organ_name}"


def inspect(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True)) -> None:
    """Print a readable summary of one package: kind, sender, recipients with levels,
    subject, due date, priority, attachments with sizes and detected types."""
    report = _read(file)
    console = Console(highlight=False)
    if report.parsed is None:
        _print_text(file, report)
        raise typer.Exit(1)
    pkg = report.parsed.package
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    t.add_row("Loại / Kind", pkg.kind)
    if isinstance(pkg, EdocPackage):
        h = pkg.header
        t.add_row("DocumentId", h.document_id)
        t.add_row("Số, ký hiệu / Code", str(h.code))
        t.add_row("Nơi gửi / From", _org_line(h.from_))
        for i, o in enumerate(h.to, start=1):
            t.add_row(f"Nơi nhận / To {i}", _org_line(o))
        t.add_row("Loại văn bản / Type", h.document_type.type_name)
        t.add_row("Trích yếu / Subject", h.subject)
        t.add_row("Ngày ban hành / Issued", f"{h.promulgation_info.promulgation_date:%Y/%m/%d}")
        t.add_row("Hạn xử lý / Due", f"{h.due_date:%Y/%m/%d}" if h.due_date else "—")
        t.add_row("Độ khẩn / Priority", f"{int(h.other_info.priority)} {h.other_info.priority.vi}")
        t.add_row("Nghiệp vụ / Business", f"{int(pkg.doc_type)} {pkg.doc_type.vi}"
                  + (f" → {pkg.target_document_id}" if pkg.target_document_id else ""))
        s = h.signer_info
        t.add_row("Người ký / Signer", f"{s.competence} {s.position} {s.full_name}".strip())
        for rf in h.response_for:
            t.add_row("Phúc đáp / ResponseFor", rf.document_id)
        for a in pkg.attachments:
            inner = ""
            if a.zip_entries:
                inner = " ⟶ " + ", ".join(f"{n} ({s:,} B)" for n, s in a.zip_entries)
            t.add_row(
                "Đính kèm / Attachment",
                f"{a.attachment_name} {a.size:,} B, khai báo/declared {a.content_type}, "
                f"thực tế/detected {a.detected_type}{inner}",
            )
        t.add_row("Chữ ký XML / XML signature", "có / present" if pkg.signature_present else "không / absent")
    elif isinstance(pkg, StatusPackage):
        h2 = pkg.header
        t.add_row("Nơi báo / From", _org_line(h2.from_))
        t.add_row("Về văn bản / About", h2.response_for.document_id)
        t.add_row("Gửi tới / To", h2.response_for.organ_id)
        t.add_row("Trạng thái / Status", f"{h2.status_code.value} {h2.status_code.vi} ({h2.status_code.en})")
        t.add_row("Mô tả / Description", h2.description)
        t.add_row("Thời điểm / Time", f"{h2.timestamp:%Y/%m/%d %H:%M:%S}")
    t.add_row("SHA-256", report.parsed.digest)
    t.add_row("Kích thước / Size", f"{report.parsed.size:,} B")
    console.print(t)
    for w in report.warnings:
        console.print(f"  CẢNH BÁO/WARNING {w.code.value} {w.path}: {w.message}")


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("inspect")(inspect)
