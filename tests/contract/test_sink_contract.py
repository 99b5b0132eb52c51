"""Every sink of this build and every sink double, held to the one contract of sink_contract.py:
FolderSink on the real file system (crashes are real processes killed with SIGKILL), the
in-memory double, and the fault-injecting wrapper with nothing scripted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.folder import SUFFIX, FolderSink
from adapters.mailbox import Confirmed, Mailbox, MailboxSink
from adapters.registry import SINKS, SinkPlace
from adapters.sink import Handover, Sink, TransientFailure
from tests.contract.sink_contract import SinkContract
from tests.support import mailbox_crash, sink_crash
from tests.support.faults import ScriptedSink
from tests.support.memory_sink import Crash, MemorySink

pytestmark = pytest.mark.contract


class TestFolderSink(SinkContract):
    crash_points = sink_crash.POINTS

    @pytest.fixture
    def sink(self, tmp_path: Path) -> Sink:
        options = SINKS.options("file", {"dir": "inbox"})  # built the way the hub builds it
        return SINKS.build("file", options, SinkPlace("tinh-nghean", tmp_path))

    def _folder(self, sink: Sink) -> FolderSink:
        assert isinstance(sink, FolderSink)
        return sink

    def inbox(self, sink: Sink) -> dict[str, bytes]:
        return {p.name.removesuffix(SUFFIX): p.read_bytes() for p in self._folder(sink).delivered()}

    def take_all(self, sink: Sink) -> dict[str, bytes]:
        """A DMS that moves each package and its sidecar out of the inbox into its archive."""
        folder = self._folder(sink)
        archive = folder.directory.parent / "archive"
        archive.mkdir(exist_ok=True)
        taken = {}
        for p in folder.delivered():
            taken[p.name.removesuffix(SUFFIX)] = p.read_bytes()
            p.with_suffix(".json").rename(archive / p.with_suffix(".json").name)
            p.rename(archive / p.name)
        return taken

    def broken(self, sink: Sink, tmp_path: Path) -> Sink:
        blocked = tmp_path / "blocked"
        blocked.write_text("a file where the inbox folder should be")
        return FolderSink(blocked)

    def crash(self, sink: Sink, handover: Handover, point: str) -> None:
        done = sink_crash.run(self._folder(sink).directory, handover, point)
        assert done.returncode == -9, f"{point}: the process was not killed: {done.stdout}{done.stderr}"


class TestMemorySink(SinkContract):
    crash_points = ("before", "after")

    @pytest.fixture
    def sink(self, tmp_path: Path) -> Sink:
        return MemorySink()

    def memory(self, sink: Sink) -> MemorySink:
        assert isinstance(sink, MemorySink)
        return sink

    def inbox(self, sink: Sink) -> dict[str, bytes]:
        return dict(self.memory(sink).inbox)

    def take_all(self, sink: Sink) -> dict[str, bytes]:
        return self.memory(sink).take_all()

    def broken(self, sink: Sink, tmp_path: Path) -> Sink:
        return MemorySink(failure=TransientFailure("the recipient's system does not answer; delivery will be retried"))

    def crash(self, sink: Sink, handover: Handover, point: str) -> None:
        memory = self.memory(sink)

        def die(at: str) -> None:
            if at == point:
                raise Crash(point)

        memory.hook = die
        with pytest.raises(Crash):
            sink.deliver(handover)
        memory.hook = lambda at: None


class TestScriptedSinkOverMemory(TestMemorySink):
    """The fault injector of the integration tests, with nothing scripted, is the sink it wraps."""

    @pytest.fixture
    def sink(self, tmp_path: Path) -> Sink:
        return ScriptedSink(MemorySink())

    def memory(self, sink: Sink) -> MemorySink:
        assert isinstance(sink, ScriptedSink)
        return super().memory(sink.inner)


class TestMailboxSink(SinkContract):
    """The pull-delivery mailbox on a real SQLite ledger database; crashes are real processes."""

    crash_points = mailbox_crash.POINTS

    @pytest.fixture
    def sink(self, tmp_path: Path) -> Sink:
        place = SinkPlace("tinh-nghean", tmp_path, ledger_url=f"sqlite:///{tmp_path}/ledger.sqlite3")
        return SINKS.build("mailbox", SINKS.options("mailbox", {}), place)

    def _sink(self, sink: Sink) -> MailboxSink:
        assert isinstance(sink, MailboxSink)
        return sink

    def inbox(self, sink: Sink) -> dict[str, bytes]:
        box = self._sink(sink).mailbox
        return {letter.handover_id: letter.body for kind in ("edoc", "status")
                for letter in box.letters("tinh-nghean", kind)}  # type: ignore[arg-type]

    def take_all(self, sink: Sink) -> dict[str, bytes]:
        """The DMS lists, fetches and confirms each letter with updateStatus(done)."""
        box = self._sink(sink).mailbox
        taken = self.inbox(sink)
        for kind in ("edoc", "status"):
            for letter in box.letters("tinh-nghean", kind):  # type: ignore[arg-type]
                assert isinstance(box.confirm("tinh-nghean", letter.doc_id, "done", lambda n: None), Confirmed)
        return taken

    def broken(self, sink: Sink, tmp_path: Path) -> Sink:
        blocked = tmp_path / "blocked"
        blocked.mkdir()
        return MailboxSink(Mailbox.open(f"sqlite:///{blocked}"), "tinh-nghean")  # a folder, not a database

    def crash(self, sink: Sink, handover: Handover, point: str) -> None:
        url = self._sink(sink).mailbox.engine.url.render_as_string(hide_password=False)
        done = mailbox_crash.run(url, handover, point)
        assert done.returncode == -9, f"{point}: the process was not killed: {done.stdout}{done.stderr}"


class TestMailboxSinkOnPostgres(TestMailboxSink):
    """The same mailbox on PostgreSQL (the production ledger), in a schema of its own."""

    @pytest.fixture
    def sink(self, tmp_path: Path, pg_ledger_url: str) -> Iterator[Sink]:
        box = Mailbox.open(pg_ledger_url)
        try:
            yield MailboxSink(box, "tinh-nghean")
        finally:
            box.close()
