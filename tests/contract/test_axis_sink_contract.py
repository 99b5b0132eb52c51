"""The national-axis sink held to the sink contract, against the fake national axis on loopback:
the far side is another system on the axis that lists, fetches and confirms what it received
(over HTTP, signed like the SDK); crashes are real processes killed with SIGKILL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.axis.client import AxisClient, AxisConfig, AxisLink, AxisOk, AxisSink, Fetched
from adapters.registry import SINKS, SinkPlace
from adapters.sink import Handover, Sink
from tests.contract.sink_contract import SinkContract
from tests.support import axis_crash
from tests.support.fake_axis import FakeAxis, fake_axis

pytestmark = pytest.mark.contract

HUB, HUB_SECRET = "000.00.00.H41", "hub-secret-1"
PEER, PEER_SECRET = "000.00.13.H41", "peer-secret-2"


class TestAxisSink(SinkContract):
    crash_points = axis_crash.POINTS

    @pytest.fixture
    def axis(self) -> Iterator[FakeAxis]:
        with fake_axis() as axis:
            axis.register(HUB, HUB_SECRET, organs=("000.00.00.H41",))
            axis.register(PEER, PEER_SECRET, organs=("000.00.13.H41",))
            yield axis

    @pytest.fixture
    def sink(self, tmp_path: Path, axis: FakeAxis) -> Iterator[Sink]:
        self.journal_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
        self.axis = axis
        self.peer = AxisClient(AxisLink(axis.url, PEER, PEER_SECRET))
        config = AxisConfig(AxisLink(axis.url, HUB, HUB_SECRET), self.journal_url)
        sink = SINKS.build("axis", SINKS.options("axis", {}), SinkPlace("truc-quoc-gia", tmp_path, axis=config))
        yield sink
        self.peer.close()

    def _sink(self, sink: Sink) -> AxisSink:
        assert isinstance(sink, AxisSink)
        return sink

    def _id(self, sink: Sink, body: bytes) -> str:
        """The hand-over id of a package on the axis: the journal row of its digest (also for a
        row whose DocId a crash kept from being recorded)."""
        digest = hashlib.sha256(body).hexdigest()
        ids = {r.digest: r.handover_id for r in self._sink(sink).journal.all_sent()}
        return ids.get(digest, f"unknown:{digest[:16]}")

    @staticmethod
    def _add(into: dict[str, bytes], key: str, body: bytes) -> None:
        """A second copy of one hand-over shows as a second key, never hidden by the first."""
        n, unique = 1, key
        while unique in into:
            n += 1
            unique = f"{key}#{n}"
        into[unique] = body

    def inbox(self, sink: Sink) -> dict[str, bytes]:
        seen: dict[str, bytes] = {}
        for r in self.axis.inbox(PEER):
            if r.status != "done":
                self._add(seen, self._id(sink, r.body), r.body)
        return seen

    def take_all(self, sink: Sink) -> dict[str, bytes]:
        """The peer system polls the axis, fetches each package and confirms it `done`."""
        listed = self.peer.received_list("edoc")
        assert isinstance(listed, AxisOk)
        taken: dict[str, bytes] = {}
        for item in listed.answer.data:
            got = self.peer.get_edoc(item.docId)
            assert isinstance(got, Fetched)
            assert isinstance(self.peer.update_status(item.docId, "done"), AxisOk)
            self._add(taken, self._id(sink, got.body), got.body)
        return taken

    def broken(self, sink: Sink, tmp_path: Path) -> Sink:
        dead = AxisConfig(AxisLink("http://127.0.0.1:9/XrdAdapter/adapter", HUB, HUB_SECRET, timeout_s=2),
                          f"sqlite:///{tmp_path / 'broken.sqlite3'}")
        return SINKS.build("axis", SINKS.options("axis", {}), SinkPlace("truc-quoc-gia", tmp_path, axis=dead))

    def crash(self, sink: Sink, handover: Handover, point: str) -> None:
        done = axis_crash.run(self.axis.url, HUB, HUB_SECRET, self.journal_url, handover, point)
        assert done.returncode == -9, f"{point}: the process was not killed: {done.stdout}{done.stderr}"
