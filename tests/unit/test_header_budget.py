"""No published copy can outgrow the AMQP frame: the worst-case headers, computed from the bounds
validation enforces (schemas.limits.FIELD_BOUNDS), stay under half of the frame.

AMQP carries all of a message's properties in one content-header frame (frame_max: 131072 in
pika and RabbitMQ). A copy whose headers do not fit is not refused politely: the broker closes
the connection, so one package would cost every in-flight message on it a redelivery. Headers
are UTF-8 on the wire, so free text is counted at 4 bytes a character.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from pika.spec import FRAME_MAX_SIZE, BasicProperties

from router.ledger.store import Ledger
from router.pipeline import envelope as H
from router.pipeline.envelope import Envelope
from router.pipeline.intake import IntakeStage
from router.topology.names import Names
from schemas.codes import BussinessDocType, PackageKind
from schemas.findings import Code
from schemas.limits import Bounded, bound
from signing.verdict import Reason, Verdict
from tests.support.hub import test_directory as hub_directory
from tests.support.packages import make_edoc

pytestmark = pytest.mark.unit

WIDE = "\U0001d538"  # 4 bytes in UTF-8: the worst a character can cost
ORGAN = "0" * bound(Bounded.ORGAN_ID)  # organ codes are ASCII by their shape (test_schemas_bounds)
SYSTEM = "s" * 63  # router.directory.model.SYSTEM_ID
SHORTSTR = "p" * 255  # any AMQP short-string property at its protocol maximum
PARK_REASON_CHARS = 500  # what the runtime keeps of a park reason (hub.py: intake crashes)
TIERS = 8  # retry tiers (more than any configuration uses): one x-death entry each, plus 2


def worst_envelope() -> Envelope:
    """Every field of the one header writer at its bound (an edoc, so lt-doc-type is present)."""
    n = bound(Bounded.RECIPIENTS)
    verdict = ";".join((max(Verdict, key=len).value, max(Reason, key=len).value,
                        quote(WIDE * bound(Bounded.ATTACHMENT_NAME), safe="")))
    return Envelope(
        digest="f" * 64, kind=PackageKind.EDOC, system=SYSTEM, recipients=(ORGAN,) * n, sender=ORGAN,
        document_id=WIDE * bound(Bounded.DOCUMENT_ID), submitted_by=SYSTEM, lane="urgent", attempt=2**31 - 1,
        priority=4, doc_type=3, target=WIDE * bound(Bounded.DOCUMENT_ID), forwarded=((ORGAN, ORGAN),) * n,
        verdict=verdict, park_reason=WIDE * PARK_REASON_CHARS, park_code=max(Code, key=len).value,
        waiting_since=datetime.max.replace(tzinfo=UTC).isoformat(),
        warnings=(WIDE * 100,) * 1000,  # lt-warnings is cut at H.WARNINGS_CHARS characters
        claim=True,
    )


def worst_headers() -> dict[str, Any]:
    death = {"count": 2**40, "reason": "rejected", "queue": SHORTSTR, "exchange": SHORTSTR,
             "time": datetime(2026, 1, 1, tzinfo=UTC), "routing-keys": [ORGAN]}
    return {
        **worst_envelope().to_headers(),
        # added by the broker on the way through retry tiers and dead-lettering
        "x-death": [death] * (TIERS + 2),
        "x-first-death-exchange": SHORTSTR, "x-first-death-queue": SHORTSTR, "x-first-death-reason": "expired",
        "x-last-death-exchange": SHORTSTR, "x-last-death-queue": SHORTSTR, "x-last-death-reason": "expired",
        "x-delivery-count": 2**31 - 1,
    }


def frame_bytes(headers: dict[str, Any]) -> int:
    props = BasicProperties(
        content_type=SHORTSTR, content_encoding=SHORTSTR, headers=headers, delivery_mode=2, priority=9,
        correlation_id=SHORTSTR, reply_to=SHORTSTR, expiration=SHORTSTR, message_id=SHORTSTR,
        timestamp=2**40, type=SHORTSTR, user_id=SHORTSTR, app_id=SHORTSTR, cluster_id=SHORTSTR,
    )
    return 2 + 2 + 8 + sum(len(part) for part in props.encode())  # class, weight, body size, properties


def test_the_worst_copy_uses_under_half_of_the_frame() -> None:
    used = frame_bytes(worst_headers())
    assert used <= FRAME_MAX_SIZE // 2, f"worst-case content header is {used} bytes"


def test_every_header_the_hub_writes_is_budgeted() -> None:
    # lt-publisher (at most 255 chars, a broker user) is only on refused copies kept in P.unknown
    assert set(worst_envelope().to_headers()) | {H.PUBLISHER} == H.HUB_HEADERS
    assert len(worst_envelope().message_id) <= 255  # a short string on the wire


def test_what_the_route_stage_writes_stays_within_the_budget(tmp_path: Path) -> None:
    """The real stage, at the bounds: every organ the province DMS serves (successors included),
    DocumentId and target at their bound in 4-byte characters."""
    directory = hub_directory("hb")
    today = date(2026, 1, 15)
    served = [o.code for o in directory.organs
              if (r := directory.resolve(o.code, on=today)).deliverable and r.system is not None
              and r.system.id == "tinh-nghean"]
    body = make_edoc("000.00.00.H41", served[: bound(Bounded.RECIPIENTS)], 1,
                     doc_id=WIDE * bound(Bounded.DOCUMENT_ID), doc_type=BussinessDocType.UPDATE,
                     target=WIDE * bound(Bounded.DOCUMENT_ID))
    user, at = directory.systems["tinh-nghean"].broker_user, datetime(2026, 1, 15, 2, tzinfo=UTC)
    original = make_edoc("000.00.00.H41", served[:1], 1, doc_id=WIDE * bound(Bounded.DOCUMENT_ID))
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}") as ledger:
        stage = IntakeStage(directory, ledger, Names("hb"))
        first = stage.process(original, user, at)  # a change is taken only for a document the hub carried
        assert first.reply["outcome"] == "accepted", first.reply
        ledger.append([*first.before, *first.after])
        decision = stage.process(body, user, at)
    assert decision.reply["outcome"] == "accepted", decision.reply
    worst = worst_headers()
    for pub in decision.publishes:
        for name, value in pub.headers.items():
            assert frame_bytes({name: value}) <= frame_bytes({name: worst[name]}), name
