"""WebhookSink against a real HTTP endpoint on loopback: what each answer means, the signature
a reference verifier accepts, the id kept across retries, and the breaker on a dead endpoint."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from adapters.breaker import BreakerPolicy, BreakerState, CircuitBreaker
from adapters.registry import SINKS, SinkPlace
from adapters.sink import Delivered, PermanentFailure, TransientFailure
from adapters.webhook import WebhookSecretError, WebhookSink, WebhookTarget, load_secret, sign
from tests.contract.sink_contract import handover
from tests.support.webhook_receiver import dead_url, receiver

pytestmark = pytest.mark.integration


def _sink(url: str, secret: str, *, timeout_s: float = 1.0, system: str = "huyen-thanhchuong",
          policy: BreakerPolicy | None = None) -> WebhookSink:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    return WebhookSink(WebhookTarget(system, url, key, timeout_s),
                       breaker=CircuitBreaker(system, policy or BreakerPolicy()))


def test_the_signature_is_the_standard_one() -> None:
    """v1,<base64 HMAC-SHA256(key, id.timestamp.body)>, computed here by hand."""
    key = b"k" * 32
    expected = base64.b64encode(hmac.new(key, b"msg_1.1700000000.<edXML/>", hashlib.sha256).digest()).decode()
    assert sign(key, "msg_1", 1700000000, b"<edXML/>") == f"v1,{expected}"


@pytest.mark.parametrize(("answer", "result"), [
    ("ok", Delivered), ("400", PermanentFailure), ("403", PermanentFailure), ("422", PermanentFailure),
    ("408", TransientFailure), ("429", TransientFailure), ("500", TransientFailure), ("503", TransientFailure),
    ("302", TransientFailure), ("drop", TransientFailure), ("hang", TransientFailure),
])
def test_each_answer_is_classified(answer: str, result: type) -> None:
    with receiver() as rx:
        rx.always = answer
        rx.hang_s = 2.0
        started = time.monotonic()
        got = _sink(rx.url, rx.secret, timeout_s=0.5).deliver(handover())
        assert isinstance(got, result), got
        assert time.monotonic() - started < 1.9  # a hanging endpoint costs the timeout, not its delay
        if not isinstance(got, Delivered):
            assert "HTTP" in got.error or "answer" in got.error


def test_the_id_is_stable_across_retries_and_the_receiver_keeps_one_copy() -> None:
    h = handover()
    with receiver() as rx:
        rx.script.extend(["503", "drop", "500"])
        sink = _sink(rx.url, rx.secret)
        results = [sink.deliver(h) for _ in range(5)]
        assert [type(r) for r in results] == [TransientFailure] * 3 + [Delivered] * 2
        assert {wid for wid, _ in rx.log} == {h.handover_id}
        assert rx.inbox == {h.handover_id: h.body} and rx.bad_signatures == 0


def test_a_dead_endpoint_opens_the_breaker_and_a_probe_closes_it() -> None:
    system = f"wh-dead-{time.monotonic_ns()}"
    sink = _sink(dead_url(), "whsec_" + base64.b64encode(b"s" * 32).decode(), system=system,
                 policy=BreakerPolicy(min_attempts=10, pause_s=0.5))
    for i in range(10):
        assert isinstance(sink.deliver(handover(str(i))), TransientFailure)
    assert sink.breaker.state is BreakerState.OPEN
    assert REGISTRY.get_sample_value("lienthong_webhook_breaker_state", {"system": system}) == 2
    assert REGISTRY.get_sample_value("lienthong_webhook_breaker_transitions_total",
                                     {"system": system, "to": "open"}) == 1
    with receiver() as rx:  # the endpoint comes back (at another address: the sink is pointed there)
        sink.target = WebhookTarget(system, rx.url, base64.b64decode(rx.secret.removeprefix("whsec_")), 1.0)
        refused = sink.deliver(handover("while open"))
        assert isinstance(refused, TransientFailure) and "pause" in refused.error
        assert rx.requests() == 0  # open: no request at all
        time.sleep(0.6)
        assert isinstance(sink.deliver(handover("probe")), Delivered)
        assert sink.breaker.state is BreakerState.CLOSED
        assert REGISTRY.get_sample_value("lienthong_webhook_breaker_state", {"system": system}) == 0


def test_secrets_come_from_outside_the_directory_and_are_never_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(Exception, match="exactly one of secret_env or secret_file"):
        SINKS.options("webhook", {"url": "https://dms.example.vn/hook"})
    with pytest.raises(Exception, match="http:// or https://"):
        SINKS.options("webhook", {"url": "ftp://dms", "secret_env": "X"})
    options = SINKS.options("webhook", {"url": "https://dms.example.vn/hook", "secret_env": "LT_T_MISSING"})
    monkeypatch.delenv("LT_T_MISSING", raising=False)
    with pytest.raises(WebhookSecretError, match="environment variable LT_T_MISSING is not set"):
        SINKS.build("webhook", options, SinkPlace("huyen-thanhchuong", tmp_path))
    (tmp_path / "huyen.whsec").write_text("whsec_not base64!!\n")
    with pytest.raises(WebhookSecretError) as bad:
        load_secret(file=tmp_path / "huyen.whsec", system="huyen-thanhchuong")
    assert "not base64" not in str(bad.value)  # names where it looked, never the value
    secret = "whsec_" + base64.b64encode(b"x" * 24).decode()
    (tmp_path / "huyen.whsec").write_text(secret + "\n")
    built = SINKS.build("webhook", SINKS.options("webhook", {"url": "https://dms.example.vn/hook",
                                                             "secret_file": "huyen.whsec"}),
                        SinkPlace("huyen-thanhchuong", tmp_path))
    assert isinstance(built, WebhookSink) and built.target.key == b"x" * 24
