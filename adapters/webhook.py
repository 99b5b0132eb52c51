"""Push delivery: POST each package to the system's endpoint, signed the Standard Webhooks way.

The request body is the package, byte for byte (`application/xml`). Headers:

* `webhook-id`: the hand-over id (`Handover.handover_id`), the same on every retry and
  re-delivery, so the receiver de-duplicates on it (the Standard Webhooks rule);
* `webhook-timestamp`: seconds since the epoch at this attempt;
* `webhook-signature`: `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>." + body)>`, the key being
  the base64 of the system's `whsec_…` secret, which lives outside the directory file (an
  environment variable or a file named in the options);
* `lienthong-kind`, `lienthong-digest`, `lienthong-sender`, `lienthong-recipients`,
  `lienthong-document-id` (percent-encoded UTF-8): what the hub learnt, for the receiver's
  convenience (signed only through the body: the receiver should trust the package itself).

The answer decides, as a value (the broker's delay tiers own retries, adapters/sink.py):
2xx within the timeout = delivered; 408 and 429 = try later; any other 4xx = refused for good
(the package is parked and its sender told); 3xx, 5xx, timeouts and connection errors = try
later. A per-destination circuit breaker (adapters/breaker.py) turns attempts into immediate
"try later" while the endpoint is known dead, so workers do not wait out timeouts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import structlog

from adapters.breaker import BreakerPolicy, CircuitBreaker
from adapters.sink import Delivered, Handover, PermanentFailure, SinkResult, TransientFailure

log = structlog.get_logger("lienthong.sink.webhook")

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
#: 4xx answers that mean "not now" rather than "never"
_TRY_LATER_4XX = frozenset({408, 429})
TEXT_RETRY = "the recipient's system did not take the package (HTTP {status}); delivery will be retried"
TEXT_DOWN = "the recipient's system does not answer at the moment; delivery will be retried"
TEXT_BREAKER = "the recipient's system has been failing; delivery will be retried after a pause"
TEXT_REFUSED = "the recipient's system refused the package (HTTP {status})"


class WebhookSecretError(ValueError):
    """The signing secret is missing or not a Standard Webhooks secret (one line, no value)."""


def load_secret(*, env: str | None = None, file: Path | None = None, system: str = "") -> bytes:
    """The HMAC key from `whsec_<base64>` (or bare base64) read from an environment variable or a
    file; refuses, naming where it looked and never the value, when absent or malformed."""
    where = f"environment variable {env}" if env else f"file {file}"
    if env:
        raw = os.environ.get(env)
    else:
        assert file is not None
        try:
            raw = file.read_text(encoding="utf-8")
        except OSError as exc:
            problem = f"webhook secret of system {system}: cannot read {where} ({exc.strerror})"
            raise WebhookSecretError(problem) from None
    if raw is None or not raw.strip():
        raise WebhookSecretError(f"webhook secret of system {system}: {where} is not set")
    text = raw.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookSecretError(f"webhook secret of system {system}: {where} is not whsec_<base64>") from None
    if len(key) < 16:
        raise WebhookSecretError(f"webhook secret of system {system}: {where} holds fewer than 16 bytes of key")
    return key


def sign(key: bytes, webhook_id: str, timestamp: int, body: bytes | Iterable[bytes]) -> str:
    """The `webhook-signature` value (Standard Webhooks v1); `body` may come in chunks (a
    claim-checked package read from the store)."""
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode(), hashlib.sha256)
    for chunk in (body,) if isinstance(body, bytes) else body:
        mac.update(chunk)
    return "v1," + base64.b64encode(mac.digest()).decode("ascii")


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    system: str
    url: str
    key: bytes
    timeout_s: float = 10.0


class WebhookSink:
    """Push delivery to one system's endpoint. Idempotent by the receiver: a re-delivery posts
    the same `webhook-id` again and a conforming receiver answers 2xx without taking it twice
    (the hub cannot know whether a receiver that timed out had stored the package)."""

    def __init__(
        self,
        target: WebhookTarget,
        *,
        breaker: CircuitBreaker | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.target = target
        self.breaker = breaker or CircuitBreaker(target.system, BreakerPolicy())
        self._client = client or httpx.Client(timeout=httpx.Timeout(target.timeout_s), follow_redirects=False)
        self._clock = clock

    def request_headers(self, h: Handover, timestamp: int) -> dict[str, str]:
        hid = h.handover_id
        return {
            "content-type": "application/xml",
            "webhook-id": hid,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self.target.key, hid, timestamp, h.chunks()),
            "lienthong-kind": str(h.kind),
            "lienthong-digest": h.digest,
            "lienthong-sender": quote(h.sender, safe=".,"),
            "lienthong-recipients": quote(",".join(h.recipients), safe=".,"),
            "lienthong-document-id": quote(h.document_id or "", safe=".,/"),
            "lienthong-attempt": str(h.attempt),
        }

    def deliver(self, handover: Handover) -> SinkResult:
        # Signed first: for a claim-checked package that is a full verified read of the store, so
        # damaged bytes raise here, before anything is sent; the body is then streamed again
        # with its length (never all in memory).
        headers = self.request_headers(handover, int(self._clock()))
        if handover.source is not None:
            headers["content-length"] = str(handover.length)
        if not self.breaker.allow():
            return TransientFailure(TEXT_BREAKER)
        try:
            content = handover.chunks() if handover.source is not None else handover.body
            answer = self._client.post(self.target.url, content=content, headers=headers)
        except httpx.HTTPError as exc:  # timeouts, refused connections, TLS, protocol errors
            self.breaker.record(False)
            log.warning("sink.webhook.unreachable", system=self.target.system, handover=handover.handover_id,
                        error=f"{type(exc).__name__}: {exc}")
            return TransientFailure(TEXT_DOWN)
        except BaseException:  # a bug: the failure policy handles it, but a probe must not stay taken
            self.breaker.record(False)
            raise
        status = answer.status_code
        if 200 <= status < 300:
            self.breaker.record(True)
            return Delivered(f"HTTP {status}")
        if 400 <= status < 500 and status not in _TRY_LATER_4XX:
            self.breaker.record(True)  # the endpoint is alive and has decided
            log.warning("sink.webhook.refused", system=self.target.system, handover=handover.handover_id,
                        status=status)
            return PermanentFailure(TEXT_REFUSED.format(status=status))
        self.breaker.record(status < 500)  # 3xx/408/429: alive, but not taking it now
        log.warning("sink.webhook.failed", system=self.target.system, handover=handover.handover_id, status=status)
        return TransientFailure(TEXT_RETRY.format(status=status))

    def close(self) -> None:
        self._client.close()
