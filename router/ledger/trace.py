"""The answer to "where did this document go and what came back": one frozen value.

A trace covers the DocumentId asked for and the packages that point at it or that it points at
(revoke/update/replace, BussinessDocType 1–3), one hop each way, so a clerk tracing the original
sees its revocation and vice versa. Per organ it gathers the transport history of every package
addressed there and the business statuses that organ reported, each in time order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from router.ledger.rows import DeliveryRow, PackageRow, StatusEntry, TransitionRow, VerdictRow


@dataclass(frozen=True, slots=True)
class DeliveryTrace:
    delivery: DeliveryRow
    history: tuple[TransitionRow, ...]


@dataclass(frozen=True, slots=True)
class OrganTrace:
    """An organ the document reached (deliveries) or that reported about it (statuses), or both."""

    organ: str
    deliveries: tuple[DeliveryTrace, ...]
    statuses: tuple[StatusEntry, ...]


@dataclass(frozen=True, slots=True)
class Trace:
    document_id: str
    packages: tuple[PackageRow, ...]
    verdicts: tuple[VerdictRow, ...]
    organs: tuple[OrganTrace, ...]

    @property
    def found(self) -> bool:
        return bool(self.packages or self.organs)

    def to_json(self, indent: int | None = 2) -> str:
        return _adapter().dump_json(self, indent=indent).decode("utf-8")

    @classmethod
    def from_json(cls, text: str | bytes) -> Trace:
        return _adapter().validate_json(text)


@cache
def _adapter() -> TypeAdapter[Trace]:
    return TypeAdapter(Trace)


def assemble(
    document_id: str,
    *,
    packages: Iterable[PackageRow],
    verdicts: Iterable[VerdictRow],
    deliveries: Iterable[DeliveryRow],
    history: Iterable[TransitionRow],
    statuses: Iterable[StatusEntry],
) -> Trace:
    """Group rows per organ and sort everything by time (ties: evidence order)."""
    steps: dict[tuple[str, str], list[TransitionRow]] = {}
    for t in sorted(history, key=lambda t: (t.at, t.seq)):
        steps.setdefault((t.digest, t.recipient_organ), []).append(t)
    by_organ: dict[str, dict[str, list[Any]]] = {}
    for d in sorted(deliveries, key=lambda d: (d.first_at, d.recipient_organ)):
        slot = by_organ.setdefault(d.recipient_organ, {"deliveries": [], "statuses": []})
        slot["deliveries"].append(DeliveryTrace(d, tuple(steps.get((d.digest, d.recipient_organ), ()))))
    for s in sorted(statuses, key=lambda s: (s.reported_at, s.received_at, s.seq)):
        by_organ.setdefault(s.reporter_organ, {"deliveries": [], "statuses": []})["statuses"].append(s)
    organs = tuple(
        OrganTrace(organ, tuple(slot["deliveries"]), tuple(slot["statuses"]))
        for organ, slot in sorted(by_organ.items(), key=lambda kv: (_first_seen(kv[1]), kv[0]))
    )
    return Trace(
        document_id=document_id,
        packages=tuple(sorted(packages, key=lambda p: (p.received_at, p.digest))),
        verdicts=tuple(sorted(verdicts, key=lambda v: (v.at, v.digest, v.attachment or ""))),
        organs=organs,
    )


def _first_seen(slot: dict[str, list[Any]]) -> datetime:
    times: list[datetime] = [d.delivery.first_at for d in slot["deliveries"]]
    times += [s.reported_at for s in slot["statuses"]]
    return min(times)
