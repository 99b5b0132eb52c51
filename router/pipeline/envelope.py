"""AMQP header names the hub adds. The package body is never touched (byte-faithful
forwarding); everything the hub learns travels here and in the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.topology.names import LANE_HEADER

LANE = LANE_HEADER
DIGEST = "lt-digest"
KIND = "lt-kind"
DOCUMENT_ID = "lt-document-id"
SENDER = "lt-sender"
RECIPIENTS = "lt-recipients"
SYSTEM = "lt-system"
ATTEMPT = "lt-attempt"
DOC_TYPE = "lt-doc-type"
TARGET = "lt-target"
FORWARDED = "lt-forwarded"
VERDICT = "lt-verdict"
PARK_REASON = "lt-park-reason"
SUBMITTED_BY = "lt-submitted-by"
PRIORITY = "lt-priority"


def text(headers: Mapping[str, Any] | None, name: str, default: str = "") -> str:
    if not headers or name not in headers or headers[name] is None:
        return default
    value = headers[name]
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def integer(headers: Mapping[str, Any] | None, name: str, default: int = 0) -> int:
    try:
        return int(text(headers, name, str(default)))
    except ValueError:
        return default


def recipients(headers: Mapping[str, Any] | None) -> tuple[str, ...]:
    raw = text(headers, RECIPIENTS)
    return tuple(r for r in raw.split(",") if r)
