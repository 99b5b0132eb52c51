"""The ledger holds exactly what validation admits, on SQLite and PostgreSQL alike: every string
column is sized from the bound of the value that flows into it (schemas.limits.FIELD_BOUNDS) or
from the closed set it holds, and values at their bounds, in multi-byte characters, come back
intact. Refusals carry who submitted them and what they claimed, without changing the identity
of refusals recorded before those fields existed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from enum import StrEnum

import pytest
from sqlalchemy import String, Text, create_engine, text
from sqlalchemy.engine import make_url

from router.ledger import Ledger, PackageKind, PackageReceived, PackageRejected, render_trace_text
from router.ledger import schema as t
from router.ledger.audit import decode_event
from router.ledger.events import (
    EVENT_TYPES,
    Outcome,
    Routed,
    StatusRecorded,
    TransportState,
    VerdictRecorded,
    canonical_json,
    event_key,
    event_payload,
)
from router.pipeline.statuses import HUB_SUBMITTER
from schemas.codes import BussinessDocType, Priority
from schemas.findings import Code
from schemas.limits import Bounded, bound
from signing.verdict import Verdict
from tests.integration.test_ledger_backends import digest

pytestmark = pytest.mark.integration

SYSTEM_ID_MAX = 63  # router.directory.model.SYSTEM_ID

#: Where each string column's values come from: a bounded package value, a closed set, a digest.
SOURCES: dict[tuple[str, str], Bounded | type[StrEnum] | int] = {
    ("ledger_packages", "digest"): 64, ("ledger_packages", "kind"): PackageKind,
    ("ledger_packages", "document_id"): Bounded.DOCUMENT_ID, ("ledger_packages", "from_organ"): Bounded.ORGAN_ID,
    ("ledger_packages", "submitted_by"): SYSTEM_ID_MAX,
    ("ledger_packages", "target_document_id"): Bounded.DOCUMENT_ID,
    ("ledger_packages", "outcome"): Outcome, ("ledger_packages", "reason_code"): Code,
    ("ledger_deliveries", "digest"): 64, ("ledger_deliveries", "recipient_organ"): Bounded.ORGAN_ID,
    ("ledger_deliveries", "system_id"): SYSTEM_ID_MAX, ("ledger_deliveries", "forwarded_to"): Bounded.ORGAN_ID,
    ("ledger_deliveries", "state"): TransportState,
    ("ledger_transitions", "digest"): 64, ("ledger_transitions", "recipient_organ"): Bounded.ORGAN_ID,
    ("ledger_transitions", "state"): TransportState, ("ledger_transitions", "system_id"): SYSTEM_ID_MAX,
    ("ledger_statuses", "digest"): 64, ("ledger_statuses", "document_id"): Bounded.DOCUMENT_ID,
    ("ledger_statuses", "reporter_organ"): Bounded.ORGAN_ID, ("ledger_statuses", "about_organ"): Bounded.ORGAN_ID,
    ("ledger_statuses", "status_code"): 2,
    ("ledger_verdicts", "digest"): 64, ("ledger_verdicts", "attachment"): Bounded.ATTACHMENT_NAME,
    ("ledger_verdicts", "verdict"): Verdict,
    ("ledger_seen", "event_key"): 64,
    ("ledger_evidence", "event_type"): max(len(n) for n in EVENT_TYPES),
    ("ledger_evidence", "prev_hash"): 64, ("ledger_evidence", "hash"): 64,
}


def needed(source: Bounded | type[StrEnum] | int) -> int:
    if isinstance(source, Bounded):
        return bound(source)
    if isinstance(source, int):
        return source
    return max(len(m.value) for m in source)


def string_columns() -> dict[tuple[str, str], int | None]:
    """Width-limited columns (Text holds anything: Subject, Description, Staff, messages)."""
    return {(table.name, c.name): c.type.length for table in t.metadata.sorted_tables for c in table.columns
            if isinstance(c.type, String) and not isinstance(c.type, Text)}


def test_every_string_column_holds_what_flows_into_it() -> None:
    columns = string_columns()
    assert set(columns) == set(SOURCES), set(columns) ^ set(SOURCES)
    for key, length in columns.items():
        source = SOURCES[key]
        assert length >= needed(source), (key, length, needed(source))
        if isinstance(source, Bounded):
            assert length == bound(source), key  # sized from the table, not a number of its own
    assert len(HUB_SUBMITTER) <= SYSTEM_ID_MAX


def test_postgresql_created_the_widths_the_schema_declares(pg_url: str) -> None:
    from tests.support.services import pg_schema

    with pg_schema(pg_url, "lt_bounds") as url, Ledger.open(url):
        schema = make_url(url).query["options"].split("=", 1)[1]  # type: ignore[union-attr]
        engine = create_engine(pg_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(text(
                    "SELECT table_name, column_name, character_maximum_length FROM information_schema.columns "
                    "WHERE table_schema = :s AND data_type = 'character varying'"), {"s": schema})
                found = {(r[0], r[1]): r[2] for r in rows}
        finally:
            engine.dispose()
    assert found == string_columns()


WIDE = "\U0001d538"  # 4 bytes in UTF-8
T0 = datetime(2026, 1, 15, 2, tzinfo=UTC)


def test_values_at_their_bounds_come_back_intact(ledger_url: str) -> None:
    doc, target = "Đ" * bound(Bounded.DOCUMENT_ID), WIDE * bound(Bounded.DOCUMENT_ID)
    organ = "O" * bound(Bounded.ORGAN_ID)
    subject = "ữ" * bound(Bounded.SUBJECT)
    system = "s" * SYSTEM_ID_MAX
    attachment = WIDE * bound(Bounded.ATTACHMENT_NAME)
    d, s, r = digest("bounded"), digest("bounded-status"), digest("bounded-refused")
    events = [
        PackageReceived(d, PackageKind.EDOC, organ, system, doc, (organ,), BussinessDocType.REPLACE, target,
                        subject, Priority.URGENT, date(2026, 1, 20), date(2026, 1, 15), at=T0),
        Routed(d, organ, system, forwarded_to=organ, at=T0),
        VerdictRecorded(d, Verdict.PARTIALLY_SIGNED.value, "x", attachment, "{}", at=T0),
        StatusRecorded(doc, organ, organ, "03", "ẩ" * bound(Bounded.DESCRIPTION), "ễ" * bound(Bounded.STAFF),
                       T0, s, at=T0),
        PackageRejected(r, Code.DOCUMENT_ID_INCONSISTENT.value, "m", at=T0, submitted_by=system,
                        kind=PackageKind.EDOC, document_id=target, from_organ=organ),
    ]
    with Ledger.open(ledger_url) as ledger:
        ledger.append(events)
        p = ledger.get_package(d)
        assert p is not None and (p.document_id, p.target_document_id, p.from_organ, p.subject, p.submitted_by) \
            == (doc, target, organ, subject, system)
        (delivery,) = ledger.deliveries(d)
        assert (delivery.recipient_organ, delivery.forwarded_to, delivery.system_id) == (organ, organ, system)
        trace = ledger.trace(doc)
        assert trace.verdicts[0].attachment == attachment
        assert trace.organs[0].statuses[0].description == "ẩ" * bound(Bounded.DESCRIPTION)
        refused = ledger.get_package(r)
        assert refused is not None and refused.document_id == target and refused.outcome is Outcome.REJECTED
        assert ledger.verify_chain().ok


def test_refusals_record_who_and_what_and_trace_finds_them(ledger_url: str) -> None:
    doc = "000.00.00.H41,2025/03/14,12/UBND-VP"
    refused = PackageRejected(digest("refused"), Code.SENDER_NOT_SERVED.value, "hệ thống … / system …", at=T0,
                              submitted_by="huyen-thanhchuong", kind=PackageKind.EDOC, document_id=doc,
                              from_organ="000.00.00.H41")
    with Ledger.open(ledger_url) as ledger:
        ledger.append([refused])
        ledger.append([refused])  # a replay changes nothing
        trace = ledger.trace(doc)
        assert [(p.digest, p.outcome, p.submitted_by, p.from_organ, p.kind) for p in trace.packages] == [
            (refused.digest, Outcome.REJECTED, "huyen-thanhchuong", "000.00.00.H41", PackageKind.EDOC)]
        text_ = render_trace_text(trace)
        assert "Từ 000.00.00.H41 qua hệ thống huyen-thanhchuong" in text_ and "SENDER_NOT_SERVED" in text_
        assert ledger.counts().evidence == 1
        assert ledger.verify_chain().ok


def test_a_refusal_recorded_before_the_new_fields_keeps_its_identity() -> None:
    old = {"type": "PackageRejected", "digest": "a" * 64, "reason_code": "XML_MALFORMED", "message": "m",
           "recipient_organ": None, "at": "2025-03-03T01:30:00.000000Z"}
    event = decode_event(json.dumps(old))
    assert canonical_json(event_payload(event)) == canonical_json(dict(old))
    assert event_key(event) == event_key(PackageRejected("a" * 64, "XML_MALFORMED", "m",
                                                         at=datetime(2025, 3, 3, 1, 30, tzinfo=UTC)))
    full = PackageRejected("a" * 64, "XML_MALFORMED", "m", at=T0, submitted_by="x", kind=PackageKind.STATUS)
    assert decode_event(canonical_json(event_payload(full))) == full
