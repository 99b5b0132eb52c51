"""The readiness checks of `lienthong run` and `lienthong api` (served by ops/health.py on --metrics-port)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Engine, text

from ops.health import Cached, Check
from router.amqp.consumer import Consumer
from router.hub import Hub
from router.ledger.engine import writing
from router.pipeline.signatures import NoSignatureCheck


def readiness_checks(hub: Hub, consumers: Sequence[Consumer], *, topology_declared: bool) -> dict[str, Check]:
    """broker: every consumer connected and consuming; topology: declared by this process (or
    left to another role with --no-apply-topology); trust: the signing trust material loaded at
    start (the hub refuses to start without it when configured); ledger: a write transaction
    (under the append lock) opens and commits."""

    def ledger_writable() -> bool:
        with writing(hub.ledger.engine) as conn:
            conn.execute(text("SELECT 1"))
        return True

    return {
        "broker": lambda: bool(consumers) and all(c.ready.is_set() for c in consumers),
        "topology": lambda: topology_declared,
        "trust": lambda: trust_loaded(hub),
        "ledger": Cached(ledger_writable),
    }


def trust_loaded(hub: Hub) -> bool:
    """Signatures are checked for some system (a policy other than off), so the hub must have
    built a real check from the trust directory; with every policy off there is nothing to load."""
    checking = any(v != "off" for v in hub.settings.signature_policy.values())
    return not checking or not isinstance(hub.signatures, NoSignatureCheck)


def api_readiness_checks(broker_check: Callable[[], None], mailbox_engine: Engine) -> dict[str, Check]:
    """broker: the gateway account logs in, may publish to intake and read reply-to (the start-up
    check, which raises naming the cause; run at most every 15 s); ledger: the mailbox's database
    takes a write transaction."""

    def broker() -> bool:
        broker_check()
        return True

    def ledger_writable() -> bool:
        with mailbox_engine.begin() as conn:
            conn.execute(text("SELECT 1"))
        return True

    return {"broker": Cached(broker), "ledger": Cached(ledger_writable)}
