"""The contract every delivery sink and every sink double keeps (adapters/sink.py).

A subclass says how to build its sink, how the DMS on the other side sees and takes what was
handed over, how to break the sink, and how to kill a hand-over half-way; the tests here are
the same for all (the kombu `t/integration/common.py` pattern). A new adapter (http, webhook,
vdxp) is done when its subclass passes.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from adapters.sink import Delivered, Handover, PermanentFailure, Sink, TransientFailure
from schemas.codes import PackageKind

#: what a text shown to a sender must never carry: paths, errno, exception reprs, tracebacks
LEAKS = re.compile(r"/|\\|errno|Errno|Error\(|Exception|Traceback|\[Err")


def handover(text: str = "Ủy ban nhân dân tỉnh Nghệ An", system: str = "tinh-nghean") -> Handover:
    body = f"<edXML>{text}</edXML>".encode()
    return Handover(
        body=body, digest=hashlib.sha256(body).hexdigest(), kind=PackageKind.EDOC, system_id=system,
        recipients=("000.00.13.H41",), document_id="000.00.00.H41,2025/03/14,1/UBND", sender="000.00.00.H41",
        headers={"lt-verdict": "SIGNED"},
    )


class SinkContract:
    """Subclass as `TestXxx(SinkContract)` and implement the five hooks below."""

    #: the points at which `crash` can kill a hand-over
    crash_points: tuple[str, ...] = ()

    @pytest.fixture
    def sink(self, tmp_path: Path) -> Sink:
        raise NotImplementedError

    def inbox(self, sink: Sink) -> dict[str, bytes]:
        """What the DMS sees now, by the id it sees (file name, webhook id …)."""
        raise NotImplementedError

    def take_all(self, sink: Sink) -> dict[str, bytes]:
        """The DMS takes everything out of its inbox (moves the files away, acks the webhooks)."""
        raise NotImplementedError

    def broken(self, sink: Sink, tmp_path: Path) -> Sink:
        """A sink whose far side fails (folder unusable, peer down)."""
        raise NotImplementedError

    def crash(self, sink: Sink, handover: Handover, point: str) -> None:
        """Hand `handover` over in a process that dies at `point`, before reporting anything."""
        raise NotImplementedError

    # -- the contract ---------------------------------------------------------------------------
    def test_hands_over_the_body_byte_for_byte_under_its_stable_id(self, sink: Sink) -> None:
        h = handover()
        assert isinstance(sink.deliver(h), Delivered)
        assert self.inbox(sink) == {h.handover_id: h.body}

    def test_the_same_handover_twice_gives_one_copy(self, sink: Sink) -> None:
        h = handover()
        first, second = sink.deliver(h), sink.deliver(h)
        assert isinstance(first, Delivered) and isinstance(second, Delivered)
        assert self.inbox(sink) == {h.handover_id: h.body}

    def test_a_redelivery_after_the_dms_took_the_package_gives_no_second_copy(self, sink: Sink) -> None:
        h = handover()
        assert isinstance(sink.deliver(h), Delivered)
        assert self.take_all(sink) == {h.handover_id: h.body}
        assert isinstance(sink.deliver(h), Delivered)
        assert self.inbox(sink) == {}

    def test_different_packages_and_systems_have_different_stable_ids(self, sink: Sink) -> None:
        a, b = handover("một"), handover("hai")
        for h in (a, b):
            assert isinstance(sink.deliver(h), Delivered)
        assert self.inbox(sink) == {a.handover_id: a.body, b.handover_id: b.body}
        assert handover("một", system="huyen-thanhchuong").handover_id != a.handover_id
        assert handover("một").handover_id == a.handover_id  # stable: derived from the facts only

    def test_a_failure_is_a_classified_value_with_a_clerk_text(self, sink: Sink, tmp_path: Path) -> None:
        result = self.broken(sink, tmp_path).deliver(handover())
        assert isinstance(result, TransientFailure | PermanentFailure)
        assert result.error.strip() and len(result.error) <= 300
        assert not LEAKS.search(result.error), result.error

    def test_a_crash_mid_handover_gives_exactly_one_copy_in_the_end(self, sink: Sink) -> None:
        assert self.crash_points, "a sink must say where it can be killed"
        for point in self.crash_points:
            h = handover(f"crash at {point}")
            self.crash(sink, h, point)
            seen = self.inbox(sink)
            assert set(seen) <= {h.handover_id} and all(v == h.body for v in seen.values()), point
            taken = self.take_all(sink)  # the DMS moves out whatever was there before the restart
            assert isinstance(sink.deliver(h), Delivered), point
            taken_after = self.take_all(sink)
            copies = [v for got in (taken, taken_after) for k, v in got.items() if k == h.handover_id]
            assert copies == [h.body], f"{point}: {len(copies)} copies"
