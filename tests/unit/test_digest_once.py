"""The body is hashed once per package: the runtime computes the digest on arrival and the
intake stage (and the parser inside it) use the one they are given."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

import schemas.reader
from router.ledger.store import Ledger
from router.pipeline import intake as intake_module
from router.pipeline.intake import IntakeStage
from router.topology.names import Names
from tests.support.hub import test_directory as hub_directory
from tests.support.samples import EDOC_1, sample

pytestmark = pytest.mark.unit


def test_intake_with_a_known_digest_hashes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = sample(EDOC_1)
    digest = hashlib.sha256(body).hexdigest()
    calls: list[int] = []
    real = hashlib.sha256

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(args[0]) if args else 0)
        return real(*args, **kwargs)

    fake = type("H", (), {"sha256": staticmethod(counting)})
    monkeypatch.setattr(schemas.reader, "hashlib", fake)
    monkeypatch.setattr(intake_module, "hashlib", fake)
    directory = hub_directory("lt-digest")
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        stage = IntakeStage(directory, ledger, Names("lt-digest"))
        decision = stage.process(body, "lt-digest-tinh-nghean", digest=digest)
        assert decision.reply["outcome"] == "accepted", decision.reply
        assert decision.reply["digest"] == digest
        # attachments are still hashed while decoding (their own digests); the body is not
        assert len(body) not in calls
        calls.clear()
        stage.process(body, "lt-digest-tinh-nghean")  # no digest given: hashed once, here
        assert calls.count(len(body)) == 1
