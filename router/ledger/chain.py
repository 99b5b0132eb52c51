"""The evidence chain: each entry hashes the previous entry's hash with its own event.

hash(n) = sha256(bytes.fromhex(hash(n-1)) || canonical JSON of event n, UTF-8), with
hash(0) = 64 zeros. Altering, removing or reordering any entry changes every later hash, so
checking the chain from the start names the first entry that no longer fits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from router.ledger.events import plain_value

GENESIS = "0" * 64


def link(prev_hash: str, payload_json: str) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + payload_json.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class EvidenceEntry:
    seq: int
    event_type: str
    at: datetime
    payload: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """`ok` with the number of entries checked, or the first broken `seq` and why."""

    ok: bool
    length: int
    head_hash: str
    broken_seq: int | None = None
    reason: str | None = None

    def text(self) -> str:
        """What an operator reads (`lienthong ledger verify`, the demo)."""
        if self.ok:
            return f"Chuỗi bằng chứng nguyên vẹn: {self.length} mục, head {self.head_hash}"
        return (f"Chuỗi bằng chứng bị phá vỡ tại seq {self.broken_seq}: {self.reason}\n"
                f"({self.length} mục trước đó khớp)")


def check_chain(
    entries: Iterable[EvidenceEntry], accept: Callable[[EvidenceEntry], None] | None = None
) -> ChainVerdict:
    """Entries must come in seq order. Stops at the first break: later entries cannot be trusted
    to mean anything once their predecessor is wrong. `accept` sees each entry found sound."""
    prev_hash = GENESIS
    expected_seq = 1
    count = 0
    for entry in entries:
        problem = _problem(entry, expected_seq, prev_hash)
        if problem is not None:
            seq = expected_seq if entry.seq > expected_seq else entry.seq
            return ChainVerdict(False, count, prev_hash, broken_seq=seq, reason=problem)
        if accept is not None:
            accept(entry)
        prev_hash = entry.hash
        expected_seq += 1
        count += 1
    return ChainVerdict(True, count, prev_hash)


def _problem(entry: EvidenceEntry, expected_seq: int, prev_hash: str) -> str | None:
    if entry.seq != expected_seq:
        return f"entry {expected_seq} is missing (next present is {entry.seq})"
    if entry.prev_hash != prev_hash:
        return "prev_hash does not match the previous entry's hash"
    if link(entry.prev_hash, entry.payload) != entry.hash:
        return "hash does not match the stored event"
    try:
        payload = json.loads(entry.payload)
    except ValueError:
        return "stored event is not JSON"
    if payload.get("type") != entry.event_type or payload.get("at") != plain_value(entry.at):
        return "event_type/at columns disagree with the stored event"
    return None
