"""Fault injection in front of a real sink: script failures per package digest."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, defaultdict
from collections.abc import Callable

from adapters.sink import Delivered, Handover, Sink, SinkResult
from router.pipeline.signatures import SignatureCheck, SignatureOutcome
from schemas.parse import ParsedPackage

Step = Callable[[Handover], SinkResult | None]


class ScriptedSink:
    """Delegates to `inner` unless a step is scripted for the digest. A step returns a result
    (a failure to report), None (go on and deliver) or raises (a crash)."""

    def __init__(self, inner: Sink) -> None:
        self.inner = inner
        self.steps: dict[str, list[Step]] = defaultdict(list)
        self.calls: list[tuple[str, int]] = []
        self.order: list[str] = []
        self.always: dict[str, Step] = {}
        #: (system, digest) → how many times the package was really written (not "already there")
        self.written: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def script(self, digest: str, *steps: Step) -> None:
        with self._lock:
            self.steps[digest].extend(steps)

    def deliver(self, handover: Handover) -> SinkResult:
        with self._lock:
            self.calls.append((handover.digest, handover.attempt))
            step = self.always.get(handover.digest)
            if step is None and self.steps.get(handover.digest):
                step = self.steps[handover.digest].pop(0)
        if step is not None:
            outcome = step(handover)
            if outcome is not None:
                return outcome
        result = self.inner.deliver(handover)
        with self._lock:
            self.order.append(handover.digest)
            if isinstance(result, Delivered) and result.detail != "already in the inbox":
                self.written[(handover.system_id, handover.digest)] += 1
        return result


class FlakySignatures:
    """Fault injection in front of a real signature check: for a scripted digest, the check
    itself raises (a verifier bug, a trust store gone) `times` times, or always (-1)."""

    def __init__(self, inner: SignatureCheck) -> None:
        self.inner = inner
        self.raises: dict[str, int] = {}
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def check(self, body: bytes, parsed: ParsedPackage, system_id: str) -> SignatureOutcome:
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            self.calls[digest] += 1
            left = self.raises.get(digest, 0)
            if left:
                self.raises[digest] = left - 1 if left > 0 else left
        if left:
            raise RuntimeError("verifier exploded: /etc/lienthong/trust/root.pem [Errno 5]")
        return self.inner.check(body, parsed, system_id)

    def close(self) -> None:
        self.inner.close()
