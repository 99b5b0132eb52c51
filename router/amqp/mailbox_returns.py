"""Letters a pulling system could not take go back through the failure executor.

When a system reports `fail` on a letter of its mailbox (adapters/mailbox.py) more often than
the failure policy has retry tiers, the mailbox parks it — but parking means more than a state:
a `Parked` record, the sender told with a hub status (DELIVERY_FAILED), the copy kept in
`P.sys.S.parked` for an operator. Those are the delivery executor's to do, with the hub's own
broker account (the API's gateway account may write to intake only). So this loop, run by the
delivery role, hands each parked letter back: the copy with its envelope and a park mark goes
to the system's first retry tier; when it comes back, the delivery consumer sees the mark
(PARK_PENDING) and parks it the one way everything is parked (router/amqp/executor.py).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace

import pika
import structlog
from pika.exceptions import AMQPError

from adapters.mailbox import Mailbox, MailboxSink
from adapters.sink import Sink
from router.pipeline.envelope import Envelope, EnvelopeError
from router.pipeline.failure import park_for
from router.topology.build import Topology
from schemas.findings import Code

log = structlog.get_logger("lienthong.mailbox")


class MailboxReturns:
    def __init__(self, mailbox: Mailbox, topology: Topology, amqp_url: str, *, interval_s: float = 10.0) -> None:
        self.mailbox = mailbox
        self.topology = topology
        self.url = amqp_url
        self.interval_s = interval_s

    def run_once(self) -> int:
        """Hand back every parked letter not handed back yet; returns how many were."""
        letters = self.mailbox.parked_unreported()
        if not letters:
            return 0
        park = park_for(Code.DELIVERY_FAILED)
        params = pika.URLParameters(self.url)
        conn = pika.BlockingConnection(params)
        done = 0
        try:
            ch = conn.channel()
            ch.confirm_delivery()
            for letter in letters:
                env = Envelope.decode(letter.headers)
                if isinstance(env, EnvelopeError) or env.system not in self.topology.systems:
                    log.error("parked letter without a usable envelope", doc_id=letter.doc_id,
                              reason=env.reason if isinstance(env, EnvelopeError) else env.system)
                    self.mailbox.mark_reported(letter.doc_id)
                    continue
                marked = replace(env, attempt=max(env.attempt, letter.fails)).parked(park.code.value, park.en)
                queue = self.topology.names.retry_queue(env.system, 1)
                ch.basic_publish("", queue, letter.body, pika.BasicProperties(
                    delivery_mode=2, headers=marked.to_headers(), message_id=marked.message_id,
                    user_id=params.credentials.username), mandatory=True)
                self.mailbox.mark_reported(letter.doc_id)  # after the broker's confirm
                log.warning("mailbox letter parked", system=env.system, digest=env.digest[:16], doc_id=letter.doc_id,
                            fails=letter.fails)
                done += 1
        finally:
            if conn.is_open:
                conn.close()
        return done

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval_s):
            try:
                self.run_once()
            except (AMQPError, OSError) as exc:  # the broker is away: the next round tries again
                log.warning("mailbox returns waiting for the broker", error=repr(exc)[:300])


def start_returns(sinks: Mapping[str, Sink], topology: Topology, amqp_url: str, stop: threading.Event) -> bool:
    """Run the returns loop in a daemon thread when some system pulls; False when none does."""
    boxes = {id(s.mailbox): s.mailbox for s in sinks.values() if isinstance(s, MailboxSink)}
    for box in boxes.values():
        returns = MailboxReturns(box, topology, amqp_url)
        threading.Thread(target=returns.run, args=(stop,), name="mailbox-returns", daemon=True).start()
    return bool(boxes)
