"""WebhookSink held to the sink contract against a real HTTP receiver on loopback that checks
every signature with the reference Standard Webhooks library; crashes are real processes
killed with SIGKILL before the request and after the receiver's 2xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.registry import SINKS, SinkPlace
from adapters.sink import Handover, Sink
from adapters.webhook import WebhookSink
from tests.contract.sink_contract import SinkContract
from tests.support import webhook_crash
from tests.support.webhook_receiver import Receiver, dead_url, receiver

pytestmark = pytest.mark.contract


class TestWebhookSink(SinkContract):
    crash_points = webhook_crash.POINTS

    @pytest.fixture
    def sink(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sink]:
        with receiver() as rx:
            self.rx = rx
            monkeypatch.setenv("LT_TEST_WEBHOOK_SECRET", rx.secret)
            options = SINKS.options("webhook", {"url": rx.url, "secret_env": "LT_TEST_WEBHOOK_SECRET",
                                                "timeout_s": 2})
            built = SINKS.build("webhook", options, SinkPlace("tinh-nghean", tmp_path))  # as the hub builds it
            assert isinstance(built, WebhookSink)
            yield built
            built.close()
            assert rx.bad_signatures == 0

    def receiver(self) -> Receiver:
        return self.rx

    def inbox(self, sink: Sink) -> dict[str, bytes]:
        return dict(self.rx.inbox)

    def take_all(self, sink: Sink) -> dict[str, bytes]:
        return self.rx.take_all()

    def broken(self, sink: Sink, tmp_path: Path) -> Sink:
        options = SINKS.options("webhook", {"url": dead_url(), "secret_env": "LT_TEST_WEBHOOK_SECRET",
                                            "timeout_s": 2})
        return SINKS.build("webhook", options, SinkPlace("tinh-nghean", tmp_path))

    def crash(self, sink: Sink, handover: Handover, point: str) -> None:
        done = webhook_crash.run(self.rx.url, self.rx.secret, handover, point)
        assert done.returncode == -9, f"{point}: the process was not killed: {done.stdout}{done.stderr}"
