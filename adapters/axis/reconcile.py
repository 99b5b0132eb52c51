"""What the axis says it has against what the hub recorded: `lienthong axis reconcile`.

Three sources: the axis sink's journal (each hand-over and the DocId the axis answered), the
ledger's deliveries to the national-axis gateway system (state per package and recipient), and
the axis's `getSentEdocList` (one item per sent package and recipient: `senderDocId`, `toCode`,
`sendStatus`). Differences, each one row of the report:

* `missing_at_axis` — the hub handed a package to the axis (ledger: delivered), but the axis
  lists no such DocId for that recipient, or no DocId was ever recorded: the axis lost it;
* `unknown_to_ledger` — the axis lists a package sent under the hub's systemId that the hub
  has no record of sending (another client using the hub's credentials, a restored database);
* `state_mismatch` — both know it but disagree: the ledger does not say delivered while the
  axis holds it, or the axis says the recipient's system failed to take it (`fail`).

Pure: the command reads the sources, this module only compares them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Literal

from adapters.axis.journal import SentRecord
from adapters.axis.protocol import SentEdoc

DifferenceKind = Literal["missing_at_axis", "unknown_to_ledger", "state_mismatch"]
DELIVERED = "delivered"


@dataclass(frozen=True, slots=True)
class Difference:
    kind: DifferenceKind
    recipient: str
    doc_id: str = ""
    digest: str = ""
    document_id: str = ""
    ledger_state: str = ""
    axis_state: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Reconciliation:
    differences: tuple[Difference, ...]
    sent: int  # (package, recipient) pairs the hub handed to the axis
    listed: int  # items the axis listed

    @property
    def clean(self) -> bool:
        return not self.differences


def reconcile(
    journal: Iterable[SentRecord],
    ledger: Mapping[tuple[str, str], str],
    axis: Iterable[SentEdoc],
    *,
    from_axis: frozenset[str] = frozenset(),
) -> Reconciliation:
    """`ledger`: (digest, recipient) → transport state of the deliveries to the gateway system;
    `from_axis`: digests the hub received from the axis (never sent back to it, so no DocId)."""
    records = list(journal)
    items = list(axis)
    on_axis = {(i.senderDocId, i.toCode): i for i in items}
    by_doc = {r.doc_id: r for r in records if r.doc_id}
    journalled = {(r.digest, to) for r in records for to in r.recipients}
    out: list[Difference] = []
    pairs = 0
    for r in records:
        for to in r.recipients:
            state = ledger.get((r.digest, to), "")
            if not r.doc_id:
                if state == DELIVERED:
                    out.append(Difference("missing_at_axis", to, "", r.digest, r.document_id or "", state, "",
                                          "sent, but the axis never answered a DocId"))
                continue
            pairs += 1
            item = on_axis.get((r.doc_id, to))
            if item is None:
                out.append(Difference("missing_at_axis", to, r.doc_id, r.digest, r.document_id or "", state, "",
                                      "the axis answered this DocId but does not list it"))
            elif state != DELIVERED:
                out.append(Difference("state_mismatch", to, r.doc_id, r.digest, r.document_id or "", state,
                                      item.sendStatus, "the axis holds it, the ledger does not say delivered"))
            elif item.sendStatus.lower() == "fail":
                out.append(Difference("state_mismatch", to, r.doc_id, r.digest, r.document_id or "", state,
                                      item.sendStatus, "the recipient's system reported it failed to take it"))
    for (digest, to), state in sorted(ledger.items()):
        if state == DELIVERED and (digest, to) not in journalled and digest not in from_axis:
            out.append(Difference("missing_at_axis", to, "", digest, "", state, "",
                                  "delivered to the gateway, but no sendEdoc is recorded"))
    for i in items:
        if i.senderDocId not in by_doc:
            out.append(Difference("unknown_to_ledger", i.toCode, i.senderDocId, "", "", "", i.sendStatus,
                                  f"sent {i.sentTime} from {i.fromCode}: {i.title[:80]}"))
    return Reconciliation(tuple(out), pairs, len(items))
