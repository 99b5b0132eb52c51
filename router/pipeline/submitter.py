"""Who submitted a package, and how they proved it: the one answer intake trusts.

A system that speaks AMQP itself is its broker login: RabbitMQ checks the message's `user_id`
against the connection's user, and the directory maps that user to the system. Adapter
processes (the axis-compatible HTTP API, the drop-folder watcher) authenticate systems by other
means (HMAC with the system's secret, the folder's owner) and publish with their **own** broker
account — a gateway account, allowed to write only to `P.intake` (ops/provision.py) — naming
the system in `lt-on-behalf-of` and the method in `lt-authenticated-by`.

The claim is trusted only on a message whose validated `user_id` is one of the configured
gateway accounts (`LIENTHONG_GATEWAY_USERS`). Anywhere else it is ignored (and logged), so a
system's own broker account can never claim to be another system; and a gateway names only the
system it authenticated, which the adapter decides (one system's credentials never reach
another's claim). A gateway message without a claim, or naming no system of the directory,
stays the gateway's own — not a system — and intake refuses it as an unknown submitter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from router.directory.model import Directory

log = structlog.get_logger("lienthong.intake")

ON_BEHALF_OF = "lt-on-behalf-of"
AUTHENTICATED_BY = "lt-authenticated-by"
#: how a system that publishes itself was authenticated
BROKER_LOGIN = "broker-login"


class GatewayConfigError(ValueError):
    """A gateway account that is also a system's broker user would let that system speak for all."""


@dataclass(frozen=True, slots=True)
class Submitter:
    """`user`: the broker user intake treats as the submitter (a system's, or the bare gateway's);
    `via`: the gateway account that vouched for it (None: the system published itself);
    `method`: how it was authenticated (`broker-login`, `axis-hmac`, `folder`, …)."""

    user: str | None
    via: str | None = None
    method: str = BROKER_LOGIN


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class SubmitterTrust:
    def __init__(self, directory: Directory, gateway_users: Iterable[str]) -> None:
        self.directory = directory
        self.gateways = frozenset(u for u in gateway_users if u)
        clash = sorted(u for u in self.gateways if directory.system_by_user(u) is not None)
        if clash:
            raise GatewayConfigError(
                f"LIENTHONG_GATEWAY_USERS names the broker user of a system ({', '.join(clash)}): "
                "a gateway account must be an adapter's own account, never a system's"
            )

    def of(self, user_id: str | None, headers: Mapping[str, Any]) -> Submitter:
        claim = _text(headers.get(ON_BEHALF_OF)).strip()
        if user_id is None or user_id not in self.gateways:
            if claim:
                log.warning("on-behalf-of ignored", user=user_id, claimed=claim[:64],
                            why="only a gateway account may submit on behalf of a system")
            return Submitter(user_id)
        method = _text(headers.get(AUTHENTICATED_BY)).strip()[:32] or "gateway"
        system = self.directory.systems.get(claim) if claim else None
        if system is None:
            log.warning("gateway claim refused", gateway=user_id, claimed=claim[:64] or None,
                        why="no such system" if claim else "no lt-on-behalf-of")
            return Submitter(user_id, user_id, method)
        log.info("submitted via gateway", system=system.id, gateway=user_id, method=method)
        return Submitter(system.broker_user, user_id, method)
