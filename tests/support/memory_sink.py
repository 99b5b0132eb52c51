"""An in-memory sink: the double unit tests and the bench use where a real DMS would be.

It keeps the promises of the real sinks (tests/contract/test_sink_contract.py holds it to the
same contract as FolderSink): one copy per hand-over id even after the DMS took the first one
away, failures as classified values, and a crash at either side of the hand-over that neither
duplicates nor loses the package.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from adapters.sink import Delivered, Handover, PermanentFailure, SinkResult, TransientFailure


class Crash(BaseException):
    """The process died here (a BaseException, so nothing on the way classifies it)."""


@dataclass
class MemorySink:
    """`inbox`: what the DMS has not taken yet, by hand-over id; `handed_over`: every id given."""

    inbox: dict[str, bytes] = field(default_factory=dict)
    handed_over: set[str] = field(default_factory=set)
    #: when set, every hand-over answers this (the peer is down / refuses)
    failure: TransientFailure | PermanentFailure | None = None
    #: called with the point ("before" / "after" the hand-over); may raise Crash
    hook: Callable[[str], None] = lambda point: None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def deliver(self, handover: Handover) -> SinkResult:
        if self.failure is not None:
            return self.failure
        hid = handover.handover_id
        with self._lock:
            if hid in self.handed_over:
                return Delivered("already handed over")
            self.hook("before")
            self.inbox[hid] = handover.body
            self.handed_over.add(hid)
        self.hook("after")
        return Delivered(hid)

    def take_all(self) -> dict[str, bytes]:
        """The DMS takes everything out of its inbox."""
        with self._lock:
            taken, self.inbox = self.inbox, {}
        return taken
