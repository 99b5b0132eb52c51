"""The XroadVnpt-* scheme against the vendor SDK's own requests (../shared/axis-captures/)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from adapters.axis import protocol as p
from tests.support.axis_captures import SECRET, SYSTEM_ID, Capture, all_captures, load

pytestmark = pytest.mark.unit

CAPTURES = all_captures()


def secrets(system_id: str) -> str | None:
    return SECRET if system_id == SYSTEM_ID else None


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda c: c.name)
def test_every_captured_request_verifies_and_yields_its_signed_parameters(capture: Capture) -> None:
    result = p.verify(capture.headers, secrets)
    assert isinstance(result, p.Authenticated), result
    assert result.system_id == SYSTEM_ID
    signed = json.loads(capture.header(p.SIGN_HEADER))
    assert dict(result.params) == {k.removeprefix(p.PREFIX): v for k, v in signed.items()}
    assert result.fingerprint == capture.header(p.HASH_HEADER)


@pytest.mark.parametrize("capture", [c for c in CAPTURES if c.operation == "sendEdoc"], ids=lambda c: c.name)
def test_send_edoc_body_is_the_package_plus_crlf_and_hash_file_is_unpadded(capture: Capture) -> None:
    declared = capture.header("XroadVnpt-hash-file")
    package = p.package_from_body(capture.body, declared)
    assert package == capture.body[:-2]
    assert package.startswith(b"<?xml")
    assert len(declared) < 64  # at least one byte below 0x10 lost its zero: this is the unpadded form
    # the same package with one byte changed no longer matches
    assert p.package_from_body(capture.body.replace(b"edXML", b"edXmL", 1), declared) is None


def test_padded_hash_file_and_a_body_without_trailer_are_accepted_too() -> None:
    package = load("001-sendEdoc.http").body[:-2]
    assert p.package_from_body(package, p.hash_file_padded(package)) == package
    assert p.package_from_body(package + b"\r\n", p.hash_file_padded(package).upper()) == package


def test_hash_file_drops_zero_padding_per_byte() -> None:
    digest = bytes.fromhex(p.hash_file_padded(b"x"))
    assert p.hash_file(b"x") == "".join(f"{b:x}" for b in digest)
    assert p.hash_file(b"x") != p.hash_file_padded(b"x") or all(b >= 16 for b in digest)


def test_timestamp_format_pads_milliseconds_to_four_digits() -> None:
    assert p.sdk_timestamp(datetime(2026, 11, 25, 14, 21, 57, 335_000)) == "25112026T142157+0335"
    assert p.sdk_timestamp(datetime(2026, 11, 25, 14, 22, 3, 9_000)) == "25112026T142203+0009"


def _xroad(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    keep = {"content-type", "user-agent"}
    return [(k, v) for k, v in headers if k.startswith(p.PREFIX) or k.lower() in keep]


@pytest.mark.parametrize(
    ("name", "params", "late"),
    [
        ("002-getReceivedEdocList.http", [("servicetype", "eDoc"), ("messagetype", "edoc")], []),
        ("005-updateStatus.http", [("docid", "0dcef3b8-bb92-40e4-bef5-661f2b0d843b")], [("status", "done")]),
        ("007-getAgenciesList.http", [], []),
        ("009-deleteAgency.http", [("AgencyCode", "000.00.13.H41")], []),
    ],
)
def test_signer_reproduces_a_fresh_sdk_objects_headers(name: str, params: list[tuple[str, str]], late: list[tuple[str, str]]) -> None:
    capture = load(name)
    signer = p.Signer(SYSTEM_ID, SECRET, timestamp=capture.header("XroadVnpt-timestamp"))
    headers = signer.headers(params, "application/json", late)
    assert sorted(headers) == sorted(_xroad(capture.headers))


def test_signer_reproduces_a_long_lived_sdk_object_with_piled_up_parameters() -> None:
    first, status, listing = load("011-sendEdoc.http"), load("012-sendEdoc.http"), load("013-getReceivedEdocList.http")
    signer = p.Signer(SYSTEM_ID, SECRET, timestamp=first.header("XroadVnpt-timestamp"))
    headers, body = signer.send_edoc(first.body[:-2], sender=SYSTEM_ID, messagetype="edoc")
    assert body == first.body
    assert sorted(headers) == sorted(_xroad(first.headers))
    headers, body = signer.send_edoc(status.body[:-2], sender="000.00.13.H41", messagetype="status")
    assert body == status.body
    assert sorted(headers) == sorted(_xroad(status.headers))
    headers = signer.headers([("servicetype", "eDoc"), ("messagetype", "edoc")], "application/json")
    assert sorted(headers) == sorted(_xroad(listing.headers))  # hash-file and from of the last send pile up


def test_signer_without_pile_up_sends_only_this_calls_parameters() -> None:
    signer = p.Signer(SYSTEM_ID, SECRET, timestamp="25112026T142157+0335", pile_up=False)
    signer.headers([("docId", "a")], "application/json")
    keys = [k for k, _ in signer.params([("docid", "b"), ("status", "done")], "application/json")]
    assert keys == ["systemid", "docid", "status", "timestamp", "Content-Type"]


def test_piled_up_docid_spellings_are_told_apart_by_exact_case() -> None:
    signer = p.Signer(SYSTEM_ID, SECRET)
    signer.headers([("docid", "old")], "application/json")
    headers = signer.headers([("docId", "new")], "application/json")
    result = p.verify(headers, secrets)
    assert isinstance(result, p.Authenticated)
    assert result.param("docId", "docid") == "new"
    assert result.param("docid", "docId") == "old"


def _with(headers: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    return [(k, value if k == name else v) for k, v in headers]


def test_refusals_say_what_is_wrong() -> None:
    capture = load("002-getReceivedEdocList.http")
    wrong = p.verify(capture.headers, lambda _s: "another-secret")
    assert isinstance(wrong, p.Refusal)
    assert wrong.code is p.ErrorCode.WRONG_CREDENTIALS
    unknown = p.verify(capture.headers, lambda _s: None)
    assert isinstance(unknown, p.Refusal)
    assert unknown.desc == wrong.desc  # an unknown system and a wrong secret look the same
    signed = capture.header(p.SIGN_HEADER)
    tampered = p.verify(_with(capture.headers, p.SIGN_HEADER, signed.replace('"edoc"', '"status"')), secrets)
    assert isinstance(tampered, p.Refusal)
    assert tampered.code is p.ErrorCode.WRONG_CREDENTIALS
    other = p.verify(_with(capture.headers, "XroadVnpt-systemid", "000.00.00.H40"), secrets)
    assert isinstance(other, p.Refusal)
    assert other.code is p.ErrorCode.WRONG_CREDENTIALS
    assert "differs from the signed one" in other.desc
    missing = p.verify([h for h in capture.headers if h[0] != p.HASH_HEADER], secrets)
    assert isinstance(missing, p.Refusal)
    assert missing.code is p.ErrorCode.MALFORMED_SIGNATURE
    garbage = p.verify(_with(capture.headers, p.SIGN_HEADER, "{not json"), secrets)
    assert isinstance(garbage, p.Refusal)
    assert garbage.code is p.ErrorCode.MALFORMED_SIGNATURE
    duplicate = p.verify(_with(capture.headers, p.SIGN_HEADER, signed[:-1] + ',"XroadVnpt-systemid":"x"}'), secrets)
    assert isinstance(duplicate, p.Refusal)
    assert duplicate.code is p.ErrorCode.MALFORMED_SIGNATURE


def test_a_frozen_old_timestamp_is_not_refused() -> None:
    signer = p.Signer(SYSTEM_ID, SECRET, timestamp="01012020T000000+0000")
    assert isinstance(p.verify(signer.headers([], "application/json"), secrets), p.Authenticated)


def test_answers_always_carry_status_code_and_desc_in_ascii_json() -> None:
    refusal = p.Refusal(p.ErrorCode.HASH_FILE_MISMATCH, "hash-file không khớp / hash-file does not match")
    answer = p.failure(refusal, p.SendEdocAnswer)
    raw = answer.to_bytes()
    raw.decode("ascii")
    assert json.loads(raw) == {"status": "FAIL", "ErrorCode": "12", "ErrorDesc": refusal.desc, "DocId": ""}
    assert json.loads(p.GetEdocAnswer().to_bytes()) == {"status": "OK", "ErrorCode": "0", "ErrorDesc": "Thành công / Success", "data": ""}
    item = p.ReceivedEdoc(docId="d", messageType="edoc", created_time="t", updated_time="t", from_="A", status="initial", status_desc="x")
    listed = json.loads(p.ReceivedListAnswer(data=[item]).to_bytes())
    assert listed["data"][0]["from"] == "A"
    assert "from_" not in listed["data"][0]
    parsed = p.ReceivedListAnswer.model_validate_json(p.ReceivedListAnswer(data=[item]).to_bytes())
    assert parsed.data[0].from_ == "A"
