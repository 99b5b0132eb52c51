"""Group commit for the ledger: many messages' events in one transaction, then their callbacks.

Each routed package costs three ledger transactions (received, routed, delivered). Written
one by one from a dozen threads they queue for the database's single write lock — SQLite's
busy handler sleeps milliseconds between tries — and the benchmark showed the hub spending
half its time there. One writer thread per consumer instead takes everything queued since
its last commit and appends it as one batch (`Ledger.append` is one transaction per batch,
and a merged batch records exactly what the separate appends would have, in the same order).
Nothing is settled before its events are committed: each submitter's callback runs only after
the commit that contains its events, so "record in the ledger, then ack" still holds.

A failed batch is retried one submission at a time, so a single bad event fails only the
message that produced it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import structlog

from router.ledger.events import LedgerEvent

log = structlog.get_logger("lienthong.group_commit")

LedgerWriter = Callable[[Sequence[LedgerEvent]], None]
Done = Callable[[BaseException | None], None]


@dataclass(slots=True)
class _Request:
    events: Sequence[LedgerEvent]
    done: Done


class GroupCommit:
    _shared: ClassVar[dict[tuple[int, str], tuple[GroupCommit, int]]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def shared(cls, write: LedgerWriter, *, name: str = "ledger") -> GroupCommit:
        """The writer for this ledger in this process, created on first use. Consumers of one
        process (intake and deliver) then commit together instead of queueing for SQLite's
        write lock against each other. `close()` stops it when its last user closes it."""
        owner = getattr(write, "__self__", write)
        key = (id(owner), getattr(write, "__name__", ""))
        with cls._shared_lock:
            writer, users = cls._shared.get(key, (None, 0))
            if writer is None or writer._closed:
                writer, users = cls(write, name=name), 0
                writer._key = key
            cls._shared[key] = (writer, users + 1)
            return writer

    def __init__(self, write: LedgerWriter, *, name: str = "ledger", max_events: int = 2000) -> None:
        self._write = write
        self._max_events = max_events
        self._queue: list[_Request] = []
        self._cv = threading.Condition()
        self._closed = False
        self._key: tuple[int, str] | None = None
        self.batches = 0
        self.events = 0
        self.submissions = 0
        self._thread = threading.Thread(target=self._loop, name=f"{name}-ledger", daemon=True)
        self._thread.start()

    def submit(self, events: Sequence[LedgerEvent], done: Done) -> None:
        """`done(None)` once committed, `done(error)` if not; runs on the writer thread."""
        with self._cv:
            if self._closed:
                raise RuntimeError("ledger writer closed")
            self._queue.append(_Request(events, done))
            self._cv.notify()

    def write(self, events: Sequence[LedgerEvent]) -> None:
        """Blocking form: returns once committed, raises what the append raised."""
        finished = threading.Event()
        outcome: list[BaseException | None] = []

        def done(err: BaseException | None) -> None:
            outcome.append(err)
            finished.set()

        self.submit(events, done)
        finished.wait()
        if outcome[0] is not None:
            raise outcome[0]

    def close(self, timeout: float | None = 30.0) -> None:
        """Commit what is queued, then stop the thread (a shared writer: when its last user closes)."""
        if self._key is not None:
            with GroupCommit._shared_lock:
                writer, users = GroupCommit._shared.get(self._key, (None, 0))
                if writer is self and users > 1:
                    GroupCommit._shared[self._key] = (self, users - 1)
                    return
                if writer is self:
                    del GroupCommit._shared[self._key]
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _take(self) -> list[_Request] | None:
        with self._cv:
            while not self._queue and not self._closed:
                self._cv.wait()
            if not self._queue:
                return None
            batch: list[_Request] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0].events) <= self._max_events):
                req = self._queue.pop(0)
                batch.append(req)
                size += len(req.events)
            return batch

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            errors = self._commit(batch)
            for req, err in zip(batch, errors, strict=True):
                try:
                    req.done(err)
                except Exception as exc:  # noqa: BLE001 - one callback must not stop the writer
                    log.error("ledger callback failed", error=repr(exc))

    def _commit(self, batch: list[_Request]) -> list[BaseException | None]:
        events = [e for req in batch for e in req.events]
        try:
            self._write(events)
        except Exception as exc:  # noqa: BLE001 - infrastructure or one bad event: isolate below
            if len(batch) == 1:
                return [exc]
            log.warning("ledger batch failed; committing its submissions one by one",
                        submissions=len(batch), error=repr(exc))
            return [self._commit_one(req) for req in batch]
        self.batches += 1
        self.events += len(events)
        self.submissions += len(batch)
        return [None] * len(batch)

    def _commit_one(self, req: _Request) -> BaseException | None:
        try:
            self._write(req.events)
        except Exception as exc:  # noqa: BLE001 - reported to that submission's callback
            return exc
        self.batches += 1
        self.events += len(req.events)
        self.submissions += 1
        return None
