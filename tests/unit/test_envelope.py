"""The envelope is the one reader and writer of the hub's `lt-*` headers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.pipeline import envelope as E
from router.pipeline.envelope import Envelope, EnvelopeError
from schemas.codes import PackageKind

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]

BASE = Envelope(
    digest="ab" * 32, kind=PackageKind.EDOC, system="tinh", recipients=("000.00.13.H41", "000.00.14.H41"),
    sender="000.00.00.H41", document_id="000.00.00.H41,2025/07/01,12/UBND-VX", submitted_by="tinh",
    lane="urgent", priority=2, doc_type=1, target="000.00.00.H41,2025/06/30,11/UBND-VX",
    forwarded=(("000.01.00.H41", "000.00.30.H41"),), verdict="SIGNED",
)

organ = st.from_regex(r"\A[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}\Z")


def test_round_trip_of_every_field() -> None:
    assert Envelope.decode(BASE.to_headers()) == BASE


@given(recipients=st.lists(organ, min_size=1, max_size=5, unique=True), attempt=st.integers(1, 50))
def test_round_trip_property(recipients: list[str], attempt: int) -> None:
    env = Envelope(digest="0" * 64, kind=PackageKind.STATUS, system="s", recipients=tuple(recipients),
                   sender="000.00.00.H41", document_id="x", submitted_by="s", attempt=attempt)
    assert Envelope.decode(env.to_headers()) == env


def test_bytes_values_as_pika_hands_them_over() -> None:
    raw = {k: (v.encode() if isinstance(v, str) else v) for k, v in BASE.to_headers().items()}
    assert Envelope.decode(raw) == BASE


@pytest.mark.parametrize("missing", [E.DIGEST, E.SYSTEM, E.RECIPIENTS])
def test_missing_routing_header_is_a_named_outcome(missing: str) -> None:
    headers = BASE.to_headers()
    del headers[missing]
    out = Envelope.decode(headers)
    assert isinstance(out, EnvelopeError) and missing in out.reason


def test_unknown_kind_and_lane_are_refused() -> None:
    assert isinstance(Envelope.decode({**BASE.to_headers(), E.KIND: "fax"}), EnvelopeError)
    assert isinstance(Envelope.decode({**BASE.to_headers(), E.LANE: "express"}), EnvelopeError)


def test_transitions() -> None:
    assert BASE.next_attempt().attempt == 2
    parked = BASE.next_attempt().parked("DELIVERY_FAILED", "tiers exhausted")
    decoded = Envelope.decode(parked.to_headers())
    assert isinstance(decoded, Envelope) and decoded.park_code == "DELIVERY_FAILED"
    fresh = decoded.replayed()
    assert fresh.attempt == 1 and fresh.park_reason is None and fresh.park_code is None
    assert E.PARK_REASON not in fresh.to_headers()


def test_message_id_names_package_system_and_attempt() -> None:
    assert BASE.message_id == f"{'ab' * 32}.tinh.1"
    assert BASE.next_attempt().message_id.endswith(".tinh.2")


def test_lt_headers_are_spelled_only_in_the_envelope_module() -> None:
    """No other module of the hub writes an `lt-*` header name as a string literal."""
    offenders = []
    for package in ("router", "adapters", "ops"):
        for path in sorted((ROOT / package).rglob("*.py")):
            # names.py defines the lane header the topology binds on; the envelope takes it from there
            if path in (ROOT / "router/pipeline/envelope.py", ROOT / "router/topology/names.py"):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("lt-") \
                        and node.value in E.HUB_HEADERS:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value}")
    assert not offenders, offenders
