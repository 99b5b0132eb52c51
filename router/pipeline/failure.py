"""The failure policy: for every way a message can fail, retry after a delay or park with a record.

Why one pure table: failure decisions used to live in five places (the delivery stage's
retry/park, the hub's crash closures, the runtime's immediate requeues, the topology and the
broker's own dead-lettering). Immediate requeues spent a quorum queue's delivery limit in
milliseconds during a ledger outage, and the broker then parked packages silently. Here one
function decides; `router/amqp/executor.py` carries the answer out; nothing else decides.

Retries are broker-side delay tiers (fixed-TTL queues dead-lettering back, per stage), so an
outage of the ledger, the verifier or a sink is waited out, not spent. Parking always comes
with a reason code: the executor writes the ledger record and tells the sender.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from router.pipeline.outcome import Stage
from schemas.findings import Code


class FailureKind(StrEnum):
    """What went wrong with one message (the typed input of the policy)."""

    HANDLER_CRASHED = "handler_crashed"  # the stage raised: a bug, or a part it calls is down
    LEDGER_UNAVAILABLE = "ledger_unavailable"  # the stage could not read the ledger
    LEDGER_BEFORE = "ledger_before"  # recording failed before anything was published
    LEDGER_AFTER = "ledger_after"  # recording failed after the copies were confirmed
    PUBLISH_NACKED = "publish_nacked"  # the broker refused a copy (nack)
    PUBLISH_RETURNED = "publish_returned"  # a copy was unroutable (mandatory return)
    SINK_TRANSIENT = "sink_transient"  # the recipient's system may take it later
    SINK_PERMANENT = "sink_permanent"  # the recipient's system refused it for good
    VERIFIER_ERROR = "verifier_error"  # signature verification itself failed (not a verdict)
    DELIVERY_LIMIT = "delivery_limit"  # the broker dead-lettered it at the delivery limit
    DEAD_LETTERED = "dead_lettered"  # the broker dead-lettered it for another reason
    WAITING_FOR_ORIGINAL = "waiting_for_original"  # a change whose original has not arrived yet
    MALFORMED_COPY = "malformed_copy"  # a routed copy whose envelope or body does not hold
    PARK_PENDING = "park_pending"  # parking was decided earlier but could not be recorded then
    COPY_FORGED = "copy_forged"  # on a queue only the hub writes, but not the hub's copy: an intrusion
    PAYLOAD_MISSING = "payload_missing"  # a claim-checked package whose bytes are not in the store
    PAYLOAD_CORRUPT = "payload_corrupt"  # … whose stored bytes do not hash to its digest


#: Failures of the hub's own parts or of a moment: worth waiting out through the tiers.
TRANSIENT = frozenset({
    FailureKind.HANDLER_CRASHED, FailureKind.LEDGER_UNAVAILABLE, FailureKind.LEDGER_BEFORE,
    FailureKind.LEDGER_AFTER, FailureKind.PUBLISH_NACKED, FailureKind.SINK_TRANSIENT,
    FailureKind.VERIFIER_ERROR,
})


@dataclass(frozen=True, slots=True)
class Failure:
    """`detail` is for the log and the operator's ledger only (it may hold exception text);
    `waited_s` is how long a change has waited for its original; `code` names the reason of a
    PARK_PENDING."""

    kind: FailureKind
    detail: str = ""
    waited_s: float = 0.0
    code: Code | None = None


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """Send a copy to retry tier `tier` (1-based) of the stage; it comes back after the tier's TTL."""

    tier: int


@dataclass(frozen=True, slots=True)
class Park:
    """Park with a record: `vi`/`en` are clerk-readable (no paths, errno or exception text)."""

    code: Code
    vi: str
    en: str


Action = RetryAfter | Park

#: The reason code a failure kind parks with, once retrying is over.
PARK_CODES: dict[FailureKind, Code] = {
    FailureKind.HANDLER_CRASHED: Code.HUB_FAILURE,
    FailureKind.LEDGER_UNAVAILABLE: Code.HUB_FAILURE,
    FailureKind.LEDGER_BEFORE: Code.HUB_FAILURE,
    FailureKind.LEDGER_AFTER: Code.HUB_FAILURE,
    FailureKind.PUBLISH_NACKED: Code.HUB_FAILURE,
    FailureKind.PUBLISH_RETURNED: Code.HUB_FAILURE,
    FailureKind.VERIFIER_ERROR: Code.HUB_FAILURE,
    FailureKind.SINK_TRANSIENT: Code.DELIVERY_FAILED,
    FailureKind.MALFORMED_COPY: Code.DELIVERY_FAILED,
    FailureKind.SINK_PERMANENT: Code.DELIVERY_REFUSED,
    FailureKind.DELIVERY_LIMIT: Code.CRASH_LOOP,
    FailureKind.DEAD_LETTERED: Code.CRASH_LOOP,
    FailureKind.WAITING_FOR_ORIGINAL: Code.ORIGINAL_NOT_DELIVERED,
    FailureKind.COPY_FORGED: Code.COPY_FORGED,
    # No retry cures them: the store is read from a local or mounted folder, and a store that
    # cannot be read at all (a mount gone) raises OSError, a HANDLER_CRASHED that is waited out.
    FailureKind.PAYLOAD_MISSING: Code.PAYLOAD_MISSING,
    FailureKind.PAYLOAD_CORRUPT: Code.PAYLOAD_CORRUPT,
}

#: What the sender reads about a parked package, per code (clerk-readable, both languages).
PARK_TEXTS: dict[Code, tuple[str, str]] = {
    Code.HUB_FAILURE: ("một bộ phận của trục (sổ ghi, kiểm tra chữ ký số, máy chủ thông điệp) lỗi kéo dài; "
                       "gói tin được giữ lại để gửi lại",
                       "a part of the hub (ledger, signature check, message broker) kept failing; "
                       "the package is held to be sent again"),
    Code.DELIVERY_FAILED: ("hệ thống nhận không tiếp nhận được sau nhiều lần thử",
                           "the recipient's system could not take it after several attempts"),
    Code.DELIVERY_REFUSED: ("hệ thống nhận từ chối gói tin vì lý do kỹ thuật (không phải ý kiến xử lý của nơi nhận)",
                            "the recipient's system refused the package for a technical reason "
                            "(not a decision of the recipient)"),
    Code.CRASH_LOOP: ("trục dừng đột ngột nhiều lần khi xử lý gói tin này; gói tin được giữ lại",
                      "the hub stopped repeatedly while handling this package; it is held"),
    Code.ORIGINAL_NOT_DELIVERED: ("văn bản gốc chưa tới nơi nhận trong thời hạn chờ",
                                  "the original document did not reach the recipient in time"),
    Code.COPY_FORGED: ("thông điệp không do trục tạo ra; đã ghi nhận là xâm nhập, không chuyển",
                       "a message the hub did not make; recorded as an intrusion, not delivered"),
    Code.PAYLOAD_MISSING: ("nội dung gói tin lớn không còn trong kho lưu trữ của trục; gói tin được giữ lại "
                           "để cán bộ vận hành xử lý",
                           "the stored content of this large package is missing from the hub's store; the "
                           "package is held for an operator"),
    Code.PAYLOAD_CORRUPT: ("nội dung gói tin lớn trong kho lưu trữ của trục bị hỏng (không khớp mã băm); "
                           "không chuyển, gói tin được giữ lại",
                           "the stored content of this large package is damaged (its hash does not match); "
                           "not delivered, held for an operator"),
}


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """`intake_tiers`/`deliver_tiers`: how many delay tiers each stage has. A change waits for its original at
    tier 1 for at most `original_wait_s` before it is parked."""

    intake_tiers: int
    deliver_tiers: int
    original_wait_s: float = 86400.0

    def decide(self, failure: Failure, stage: Stage, attempt: int) -> Action:
        """`attempt` is the 1-based attempt that just failed."""
        kind = failure.kind
        if kind is FailureKind.PARK_PENDING:
            return park_for(failure.code or Code.CRASH_LOOP)
        if kind is FailureKind.WAITING_FOR_ORIGINAL:
            return RetryAfter(1) if failure.waited_s < self.original_wait_s else park_for(PARK_CODES[kind])
        if kind in TRANSIENT:
            tiers = self.intake_tiers if stage == Stage.INTAKE else self.deliver_tiers
            if 1 <= attempt <= tiers:
                return RetryAfter(attempt)
        return park_for(PARK_CODES[kind])


def park_for(code: Code) -> Park:
    vi, en = PARK_TEXTS.get(code, PARK_TEXTS[Code.CRASH_LOOP])
    return Park(code, vi, en)
