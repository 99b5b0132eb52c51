"""Issue 8, "The hub publishes where it is told" and "Amplification", on the real broker.

* A submitter's `reply_to` naming another system's parked queue: the hub does not publish there
  (the only reply route is the submitter's own direct reply-to).
* One package to many unknown recipients: one status 02 back, naming them (bounded), not one
  status per recipient; every refused recipient is still recorded in the ledger.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pika
import pytest

from schemas.models import StatusPackage
from schemas.parse import parse_package
from tests.support.hub import RunningHub, running_hub
from tests.support.packages import make_edoc
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

PROVINCE, DEPT = "000.00.00.H41", "000.00.13.H41"
SENDER, VICTIM = "tinh-nghean", "huyen-thanhchuong"


def depth(hub: RunningHub, queue: str) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(hub.amqp_url))
    try:
        return int(conn.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        conn.close()


def statuses(hub: RunningHub) -> list[str]:
    out = []
    for path in hub.inbox(SENDER):
        pkg = parse_package(path.read_bytes()).package
        if isinstance(pkg, StatusPackage):
            out.append(pkg.header.description or "")
    return out


def test_replies_go_only_to_the_submitters_reply_route_and_refusals_are_one_per_package(
    amqp_url: str, broker_prefix: str, tmp_path: Path
) -> None:
    with running_hub(amqp_url, broker_prefix, tmp_path) as hub:
        names = hub.hub.topology.names
        target = names.parked_queue(VICTIM)
        conn = pika.BlockingConnection(pika.URLParameters(hub.user_url(SENDER)))
        try:
            ch = conn.channel()
            ch.confirm_delivery()
            body = make_edoc(PROVINCE, [DEPT], 95, notation="UBND-VP")
            ch.basic_publish(names.intake_exchange, "", body, pika.BasicProperties(
                delivery_mode=2, user_id=hub.hub.directory.systems[SENDER].broker_user, reply_to=target,
                correlation_id="c1"), mandatory=True)
        finally:
            conn.close()
        digest = hashlib.sha256(body).hexdigest()
        wait_for(lambda: any(p.read_bytes() == body for p in hub.inbox(SENDER)), what="the package delivered")
        time.sleep(0.5)  # the settle (and a reply, were one sent) follows the delivery's ledger write
        assert hub.hub.ledger.get_package(digest) is not None
        assert depth(hub, target) == 0  # nothing published into the other system's queue

        unknown = [f"000.{i:02d}.99.H41" for i in range(1, 41)]
        many = make_edoc(PROVINCE, [DEPT, *unknown], 96, notation="UBND-VP")
        result = hub.submit(SENDER, many).result
        assert result is not None and result["outcome"] == "accepted", result
        assert sorted(result["rejected_recipients"]) == sorted(unknown)
        wait_for(lambda: any("40 nơi nhận" in s for s in statuses(hub)), what="the one refusal")
        time.sleep(1.0)  # were there more, they would have arrived by now
        refusals = [s for s in statuses(hub) if s.startswith("[UNKNOWN_RECIPIENT]")]
        assert len(refusals) == 1, refusals
        assert unknown[0] in refusals[0] and "(+20)" in refusals[0] and len(refusals[0]) < 2000
        rows = {d.recipient_organ for d in hub.hub.ledger.deliveries(hashlib.sha256(many).hexdigest())}
        assert set(unknown) <= rows  # each refused recipient recorded


def test_a_package_past_the_operators_recipient_cap_is_refused_once_and_nothing_fans_out(
    amqp_url: str, broker_prefix: str, tmp_path: Path
) -> None:
    with running_hub(amqp_url, broker_prefix, tmp_path, max_recipients=5) as hub:
        served = [DEPT, "000.31.25.H41", "000.00.25.H41"]  # real organs of two systems
        fanned = make_edoc(PROVINCE, [*served, *(f"000.{i:02d}.13.H41" for i in range(1, 4))], 97)
        result = hub.submit(SENDER, fanned).result
        assert result is not None and result["outcome"] == "rejected", result
        assert result["code"] == "TOO_MANY_RECIPIENTS", result
        wait_for(lambda: any(s.startswith("[TOO_MANY_RECIPIENTS]") for s in statuses(hub)), what="the one 02")

        within = make_edoc(PROVINCE, served, 98)
        ok = hub.submit(SENDER, within).result
        assert ok is not None and ok["outcome"] == "accepted", ok
        wait_for(lambda: any(p.read_bytes() == within for p in hub.inbox(VICTIM)), what="the package within the cap")
        time.sleep(0.5)
        assert not any(p.read_bytes() == fanned for sid in hub.hub.directory.systems for p in hub.inbox(sid))
        assert len([s for s in statuses(hub) if s.startswith("[TOO_MANY_RECIPIENTS]")]) == 1
        assert not hub.hub.ledger.deliveries(hashlib.sha256(fanned).hexdigest())
