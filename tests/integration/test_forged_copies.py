"""Issue 8, "Any system can bypass intake" / "Only the hub makes copies", on the real broker.

The broker rights of today refuse a system any write but intake (test_broker_rights.py). Here
the broker is misconfigured as it was before (a district system may write to the default
exchange, and through it to any queue) and an attacker uses the district's own credentials to
publish forged copies straight into the province system's normal, retry and parked queues: a
made-up package with made-up `lt-*` headers, a byte-exact copy of a real package, a forged
"park pending" mark. The hub also meets copies with its own `user_id` that the ledger does not
know. None is delivered or replayed; each is recorded as `CopyRefused` with the publishing user,
kept in `P.unknown`; the real document's trace is untouched and the chain verifies.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pika
import pytest
from sqlalchemy import select

from ops.provision import Grant, ensure_user
from router.amqp.parked import list_parked, replay_parked
from router.hub import pika_user
from router.ledger import schema as t
from router.ledger.engine import reading
from router.ledger.events import TransportState
from router.ledger.store import Ledger
from router.pipeline.envelope import PARK_CODE, PUBLISHER, Envelope
from schemas.codes import PackageKind
from tests.support.hub import PASSWORD, RunningHub, running_hub
from tests.support.packages import make_edoc
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

PROVINCE, COMMUNE = "000.00.00.H41", "000.31.25.H41"  # tinh-nghean, huyen-thanhchuong
VICTIM, ATTACKER = "tinh-nghean", "huyen-thanhchuong"


def refusals(ledger: Ledger) -> list[dict[str, Any]]:
    with reading(ledger.engine) as conn:
        rows = conn.execute(select(t.evidence.c.payload).where(t.evidence.c.event_type == "CopyRefused"))
        return [json.loads(r.payload) for r in rows]


def forged_envelope(body: bytes, **over: Any) -> Envelope:
    fields: dict[str, Any] = dict(
        digest=hashlib.sha256(body).hexdigest(), kind=PackageKind.EDOC, system=VICTIM, recipients=("000.00.13.H41",),
        sender="000.00.00.G09", document_id="000.00.00.G09,2026/03/01,1/BNV", submitted_by="truc-quoc-gia",
        verdict="SIGNED",
    )
    fields.update(over)
    return Envelope(**fields)


def publish(url: str, user: str | None, queue: str, body: bytes, headers: dict[str, Any]) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2, headers=headers, user_id=user),
                         mandatory=True)
    finally:
        conn.close()


def attacker_url(hub: RunningHub) -> tuple[str, str]:
    """The district's own account with the old, too wide rights (write to the default exchange)."""
    user = hub.hub.directory.systems[ATTACKER].broker_user
    p = re.escape(hub.prefix)
    ensure_user(Grant(user, "^$", f"^({p}\\.intake|amq\\.default)$", f"^{p}\\.sys\\.{ATTACKER}\\..*$"), PASSWORD)
    return hub.user_url(ATTACKER), user


def test_copies_the_hub_did_not_make_are_refused_recorded_and_never_replayed(
    amqp_url: str, broker_prefix: str, tmp_path: Path
) -> None:
    with running_hub(amqp_url, broker_prefix, tmp_path) as hub:
        names, ledger = hub.hub.topology.names, hub.hub.ledger
        real = make_edoc(PROVINCE, [COMMUNE], 81, notation="UBND-VP")
        result = hub.submit(VICTIM, real)
        assert result.result is not None and result.result["outcome"] == "accepted", result.result
        wait_for(lambda: len(hub.inbox(ATTACKER)) == 1, what="the real package delivered")
        digest = hashlib.sha256(real).hexdigest()
        # the sink writes the file before the ledger commits `delivered`: compare against the
        # settled trace, not one taken between the two
        wait_for(lambda: all(d.state is TransportState.DELIVERED for d in ledger.deliveries(digest)),
                 what="the real delivery recorded")
        document_id = result.result["document_id"]
        before_trace = ledger.trace(document_id)

        url, user = attacker_url(hub)
        made_up = make_edoc("000.00.00.G09", ["000.00.13.H41"], 82, notation="BNV")
        park_mark = make_edoc("000.00.00.G09", ["000.00.13.H41"], 83, notation="BNV")
        in_parked = make_edoc("000.00.00.G09", ["000.00.13.H41"], 84, notation="BNV")
        real_env = forged_envelope(real, sender=PROVINCE, document_id=document_id, submitted_by=VICTIM,
                                   recipients=(COMMUNE,), system=ATTACKER, verdict=None)
        forged = [
            (names.system_queue(VICTIM, "normal"), made_up, forged_envelope(made_up).to_headers()),
            (names.retry_queue(VICTIM, 1), made_up, forged_envelope(made_up, attempt=2).to_headers()),
            (names.system_queue(VICTIM, "urgent"), park_mark,
             forged_envelope(park_mark).parked("DELIVERY_FAILED", "x").to_headers()),
            (names.system_queue(ATTACKER, "normal"), real, real_env.to_headers()),  # byte-exact replay of a real one
        ]
        for queue, body, headers in forged:
            publish(url, user, queue, body, headers)
        publish(url, user, names.parked_queue(VICTIM), in_parked, forged_envelope(in_parked).to_headers())

        # the hub's own user, but copies the ledger does not hold: an unknown digest, a real
        # package's envelope with a recipient it was never routed to
        unknown = make_edoc(PROVINCE, ["000.00.13.H41"], 85, notation="UBND-VP")
        own = pika_user(amqp_url)
        publish(amqp_url, own, names.system_queue(VICTIM, "normal"), unknown,
                forged_envelope(unknown, sender=PROVINCE).to_headers())
        widened = forged_envelope(real, sender=PROVINCE, document_id=document_id, submitted_by=VICTIM,
                                  recipients=("000.00.13.H41",), verdict=None)
        publish(amqp_url, own, names.system_queue(VICTIM, "normal"), real, widened.to_headers())

        wait_for(lambda: len(refusals(ledger)) == 6, 60, what="six refusals recorded")
        records = refusals(ledger)
        by_publisher: dict[str, int] = {}
        for r in records:
            by_publisher[r["publisher"]] = by_publisher.get(r["publisher"], 0) + 1
        assert by_publisher == {user: 4, own: 2}, records  # the attacker named; the hub's own, caught by the ledger
        assert {r["system_id"] for r in records} == {VICTIM, ATTACKER}  # the queue's system, not the claim
        assert any("never routed" in r["reason"] for r in records)

        # an operator replays what is parked: the injected message is not the hub's, it stays
        assert replay_parked(hub.hub.topology, amqp_url, VICTIM) == 0
        assert [p.digest for p in list_parked(hub.hub.topology, amqp_url, VICTIM)] == [
            hashlib.sha256(in_parked).hexdigest()]

        # nothing reached a sink: the victim's inbox is empty, the real package is there once
        assert hub.inbox(VICTIM) == []
        assert [p.read_bytes() for p in hub.inbox(ATTACKER)] == [real]
        assert ledger.get_package(hashlib.sha256(made_up).hexdigest()) is None  # no row, no timeline
        after_trace = ledger.trace(document_id)
        assert after_trace == before_trace
        assert ledger.verify_chain().ok

        # kept for the operator in P.unknown, with who published them
        conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            ch = conn.channel()
            kept = []
            while (got := ch.basic_get(names.unknown_queue, auto_ack=True))[0] is not None:
                kept.append(got[1].headers)
        finally:
            conn.close()
        assert len(kept) == 6 and {h[PARK_CODE] for h in kept} == {"COPY_FORGED"}
        assert sorted(h[PUBLISHER] for h in kept).count(user) == 4
