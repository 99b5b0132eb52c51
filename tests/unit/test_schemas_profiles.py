"""The two validation profiles over the real-world corpus and over each rule (issue 9).

`default` must accept every `accept` entry of ../shared/realworld/manifest.json and refuse every
`refuse` entry with one of its listed codes; `strict` keeps the full-QCVN behaviour (the rule
tests of test_schemas_rules.py run under it) and refuses nothing the default does not at least
warn about.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from router.cli import app
from schemas.findings import Code, Severity
from schemas.parse import ValidationReport, validate_package
from schemas.policy import ValidationOptions
from schemas.profiles import DEFAULT_GRADES, Profile
from tests.support.samples import EDOC_1, EDOC_3, REALWORLD, STATUS_1, realworld_manifest, replace_once, sample_text

pytestmark = pytest.mark.unit

MANIFEST = realworld_manifest()
MH = "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader"
STRICT = ValidationOptions(profile=Profile.STRICT)
DEFAULT = ValidationOptions()


def _read(name: str, options: ValidationOptions) -> ValidationReport:
    with (REALWORLD / name).open("rb") as fh:
        return validate_package(fh, options)


@pytest.mark.parametrize("entry", MANIFEST, ids=[str(e["file"]) for e in MANIFEST])
def test_default_profile_follows_the_manifest(entry: dict[str, object]) -> None:
    report = _read(str(entry["file"]), DEFAULT)
    if entry["expect"] == "accept":
        assert report.valid, report.errors
        assert report.parsed is not None
        for w in report.warnings:  # every warning says where and what, in both languages
            assert w.path.startswith("/edXML") and w.vi and w.en
    elif entry["expect"] == "refuse":
        assert not report.valid
        assert {f.code.value for f in report.errors} & set(entry["codes"]), report.errors  # type: ignore[arg-type]
    else:
        assert report.valid or report.errors


@pytest.mark.parametrize("entry", MANIFEST, ids=[str(e["file"]) for e in MANIFEST])
def test_strict_profile_refuses_only_what_the_default_reports(entry: dict[str, object]) -> None:
    strict, default = _read(str(entry["file"]), STRICT), _read(str(entry["file"]), DEFAULT)
    if entry["expect"] == "refuse":
        assert not strict.valid
        assert {f.code.value for f in strict.errors} & set(entry["codes"]), strict.errors  # type: ignore[arg-type]
        return
    reported = {f.code for f in default.findings}
    assert {f.code for f in strict.errors} <= reported, (strict.errors, default.findings)
    if default.valid and not any(DEFAULT_GRADES.get(w.code) for w in default.warnings
                                 if w.code not in _WARNINGS_IN_BOTH):
        assert strict.valid, strict.errors


#: codes a check reports as a warning under either profile
_WARNINGS_IN_BOTH = {Code.DOCUMENT_ID_OPAQUE, Code.DATE_LEGACY_FORMAT, Code.ORGAN_ID_NONSTANDARD, Code.FIELD_TOO_LONG}


def test_strict_refuses_the_eleven_packages_the_issue_names() -> None:
    """What today's hub refused: every 2025 axis and gateway package, the 2019 download, and
    the SDK's update, revocation and replacement samples; the SDK's statuses pass both."""
    refused = {str(e["file"]) for e in MANIFEST if e["expect"] == "accept"
               and not _read(str(e["file"]), STRICT).valid}
    assert len(refused) == 11, sorted(refused)
    assert all(not name.startswith("pvn-sdk-status") for name in refused)


@pytest.mark.parametrize("profile", [p.value for p in Profile])
def test_the_cli_follows_the_manifest(profile: str) -> None:
    files = [str(REALWORLD / str(e["file"])) for e in MANIFEST]
    result = CliRunner().invoke(app, ["validate", "--format", "json", "--profile", profile, *files])
    lines = {Path(r["file"]).name: r for r in map(json.loads, result.output.splitlines())}
    assert set(lines) == {str(e["file"]) for e in MANIFEST}
    for e in MANIFEST:
        line = lines[str(e["file"])]
        assert line["valid"] == _read(str(e["file"]), ValidationOptions(profile=Profile(profile))).valid
        if e["expect"] == "refuse":
            assert not line["valid"] and {f["code"] for f in line["errors"]} & set(e["codes"])  # type: ignore[arg-type]
        elif e["expect"] == "accept" and profile == "default":
            assert line["valid"], line["errors"]
    assert result.exit_code == 1  # some are refused under either profile


# -- the grading of each rule ------------------------------------------------------------------

EDOC = sample_text(EDOC_1)
TO_ORGAN = "<edXML:OrganId>000.00.13.H41</edXML:OrganId>"
FROM_ORGAN = "<edXML:OrganId>000.00.00.H41</edXML:OrganId>"
DOCID = "<edXML:DocumentId>000.00.00.H41,2025/03/14,1234/UBND-KGVX</edXML:DocumentId>"


def _to_block(text: str) -> tuple[int, int]:
    start = text.index("<edXML:To>")
    return start, text.index("</edXML:To>") + len("</edXML:To>")


def _duplicate_to(text: str) -> str:
    start, end = _to_block(text)
    return text[:end] + text[start:end] + text[end:]


def _without_to(text: str) -> str:
    start, end = _to_block(text)
    return text[:start] + text[end:]


CASES: list[tuple[str, str, Code, Severity]] = [
    # (name, package text, code, severity under the default profile); strict: always an error
    ("connector recipient", replace_once(EDOC, TO_ORGAN, "<edXML:OrganId>vxp.saas.02</edXML:OrganId>"),
     Code.ORGAN_ID_CONNECTOR, Severity.WARNING),
    ("legacy recipient", replace_once(EDOC, TO_ORGAN, "<edXML:OrganId>01.13.H41</edXML:OrganId>"),
     Code.ORGAN_ID_LEGACY, Severity.WARNING),
    ("garbage recipient", replace_once(EDOC, TO_ORGAN, "<edXML:OrganId>13.H41</edXML:OrganId>"),
     Code.ORGAN_ID_INVALID, Severity.ERROR),
    ("garbage sender", replace_once(EDOC, FROM_ORGAN, "<edXML:OrganId>null</edXML:OrganId>"),
     Code.ORGAN_ID_INVALID, Severity.ERROR),
    ("no OrganName", replace_once(EDOC, "<edXML:OrganName>Sở Thông tin và Truyền thông tỉnh Nghệ An</edXML:OrganName>",
                                  ""), Code.SCHEMA_VIOLATION, Severity.WARNING),
    ("no From/OrganId", replace_once(EDOC, FROM_ORGAN, ""), Code.SCHEMA_VIOLATION, Severity.ERROR),
    ("empty DocumentId", replace_once(EDOC, DOCID, "<edXML:DocumentId> </edXML:DocumentId>"),
     Code.SCHEMA_VIOLATION, Severity.ERROR),
    ("DocumentId date", replace_once(EDOC, DOCID, DOCID.replace("2025/03/14", "2025/03/15")),
     Code.DOCUMENT_ID_INCONSISTENT, Severity.WARNING),
    ("DueDate before issue", replace_once(EDOC, "<edXML:DueDate>2025/03/28<", "<edXML:DueDate>2025/03/01<"),
     Code.DATE_INVALID, Severity.WARNING),
    ("Priority 7", replace_once(EDOC, "<edXML:Priority>0<", "<edXML:Priority>7<"),
     Code.CODE_LIST_VALUE, Severity.WARNING),
    ("Priority text", replace_once(EDOC, "<edXML:Priority>0<", "<edXML:Priority>khẩn<"),
     Code.SCHEMA_VIOLATION, Severity.WARNING),
    ("BussinessDocType 9", replace_once(EDOC, "<edXML:BussinessDocType>0<", "<edXML:BussinessDocType>9<"),
     Code.CODE_LIST_VALUE, Severity.ERROR),
    ("duplicate recipient", _duplicate_to(EDOC), Code.RECIPIENT_DUPLICATE, Severity.WARNING),
    ("no recipient", _without_to(EDOC), Code.RECIPIENT_MISSING, Severity.ERROR),
    ("revoke without Bussiness/DocumentId",
     replace_once(EDOC, "<edXML:BussinessDocType>0<", "<edXML:BussinessDocType>1<"),
     Code.TARGET_MISSING, Severity.WARNING),
    ("manifest without attachment", replace_once(
        EDOC, "<edXML:ContentId>cid:9886bc59-c2a8-47a6-bf99-6fe0233d2ac3</edXML:ContentId>",
        "<edXML:ContentId>cid:other</edXML:ContentId>"), Code.ATTACHMENT_MISMATCH, Severity.WARNING),
    ("bad base64", replace_once(EDOC, "<ContentTransferEncoded>JVBER", "<ContentTransferEncoded>JV*BER"),
     Code.ATTACHMENT_ENCODING, Severity.ERROR),
    ("secret", replace_once(EDOC, "<edXML:SphereOfPromulgation>Liên thông văn bản<",
                            "<edXML:SphereOfPromulgation>MẬT<"), Code.SECRET_DOCUMENT, Severity.ERROR),
    ("edoc ResponseFor without Code", replace_once(sample_text(EDOC_3), "<edXML:Code>1234/UBND-KGVX</edXML:Code>", ""),
     Code.RESPONSE_FOR_INCOMPLETE, Severity.WARNING),
    ("status ResponseFor without OrganId", replace_once(
        sample_text(STATUS_1), "<edXML:OrganId>000.00.00.H41</edXML:OrganId>\n          <edXML:Code>", "<edXML:Code>"),
     Code.RESPONSE_FOR_INCOMPLETE, Severity.ERROR),
    ("status Timestamp", replace_once(sample_text(STATUS_1), "<edXML:Timestamp>2025", "<edXML:Timestamp>x2025"),
     Code.DATE_INVALID, Severity.ERROR),
]


@pytest.mark.parametrize(("name", "text", "code", "severity"), CASES, ids=[c[0] for c in CASES])
def test_each_finding_is_graded_by_the_default_profile(name: str, text: str, code: Code, severity: Severity) -> None:
    default = validate_package(text.encode("utf-8"))
    assert (code, severity) in {(f.code, f.severity) for f in default.findings}, default.findings
    assert default.valid is (severity is Severity.WARNING), default.findings
    strict = validate_package(text.encode("utf-8"), STRICT)
    assert not strict.valid and code in {f.code for f in strict.errors}, strict.findings
    hit = next(f for f in default.findings if f.code is code)
    assert hit.line is not None and hit.vi and hit.en


def test_business_spelled_with_one_s_reads_like_bussiness() -> None:
    text = EDOC
    for name in ("Bussiness", "BussinessDocType", "BussinessDocReason"):
        text = text.replace(f"<edXML:{name}>", f"<edXML:{name.replace('Buss', 'Bus')}>")
        text = text.replace(f"</edXML:{name}>", f"</edXML:{name.replace('Buss', 'Bus')}>")
    text = replace_once(text, "<edXML:BusinessDocType>0<", "<edXML:BusinessDocType>2<")
    text = replace_once(text, "<edXML:BusinessDocReason>",
                        "<edXML:DocumentId>000.00.00.H41,2025/03/01,1000/UBND-KGVX</edXML:DocumentId>"
                        "<edXML:BusinessDocReason>")
    assert "<edXML:Bussiness" not in text and "<edXML:BusinessDocReason>" in text
    for options in (DEFAULT, STRICT):
        report = validate_package(text.encode("utf-8"), options)
        assert report.parsed is not None, report.findings
        assert int(report.parsed.package.doc_type) == 2  # type: ignore[union-attr]
        assert report.parsed.package.target_document_id == "000.00.00.H41,2025/03/01,1000/UBND-KGVX"  # type: ignore[union-attr]


def test_every_code_a_package_can_earn_has_a_default_grade() -> None:
    router_codes = {Code.USER_ID_MISSING, Code.SENDER_UNKNOWN_SYSTEM, Code.SENDER_NOT_SERVED, Code.UNKNOWN_RECIPIENT,
                    Code.DUPLICATE_CONFLICT, Code.SIGNATURE_INVALID, Code.SIGNATURE_MISSING, Code.DELIVERY_FAILED,
                    Code.DELIVERY_REFUSED, Code.HUB_FAILURE, Code.CRASH_LOOP, Code.ORIGINAL_NOT_DELIVERED,
                    Code.COPY_FORGED, Code.CHANGE_TARGET_UNKNOWN, Code.STATUS_DOCUMENT_UNKNOWN, Code.GATEWAY_RELAY,
                    Code.PAYLOAD_MISSING, Code.PAYLOAD_CORRUPT}
    assert set(DEFAULT_GRADES) == set(Code) - router_codes


def test_the_readme_severity_table_is_the_grading_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Errors and warnings"):]
    for code, grade in DEFAULT_GRADES.items():
        row = next((line for line in section.splitlines() if line.startswith(f"| `{code.value}` |")), None)
        assert row is not None, f"README severity table lacks {code.value}"
        cells = [c.strip() for c in row.strip("|").split("|")]
        expected = "as found" if grade.severity is None else (
            "warning; error on routing values" if grade.route_stays else grade.severity.value)
        assert cells[1] == expected, (code, cells)
