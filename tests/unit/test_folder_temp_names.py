"""The folder sink's temporary names (issue 12: O_EXCL names instead of mkstemp's retries).

A name is `<prefix><token of this process><n><suffix>`; O_EXCL must still refuse a name that is
taken, whoever took it, and a forked child must not draw the parent's names."""

from __future__ import annotations

import itertools
import multiprocessing
import os
from pathlib import Path

import pytest

from adapters import folder
from adapters.folder import _TempNames, _write_temp


def test_a_taken_name_is_never_overwritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_TempNames, "token", "fixed")
    monkeypatch.setattr(_TempNames, "counter", itertools.count())
    taken = tmp_path / ".tmp-abc-fixed0.part"
    taken.write_bytes(b"another writer's bytes")

    written = _write_temp(tmp_path, b"ours", prefix=".tmp-abc-", suffix=".part")

    assert written.name == ".tmp-abc-fixed1.part"
    assert written.read_bytes() == b"ours"
    assert taken.read_bytes() == b"another writer's bytes"
    assert oct(written.stat().st_mode & 0o777) == oct(0o600)  # as mkstemp made them


def test_each_name_is_new_within_a_process(tmp_path: Path) -> None:
    names = {_write_temp(tmp_path, b"x", prefix=".tmp-", suffix=".part").name for _ in range(50)}
    assert len(names) == 50
    assert all(n.startswith(f".tmp-{_TempNames.token}") for n in names)


def _child_token(queue: multiprocessing.Queue[str]) -> None:
    queue.put(folder._TempNames.token)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_draws_its_own_token() -> None:
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = ctx.Queue()
    child = ctx.Process(target=_child_token, args=(queue,))
    child.start()
    token = queue.get(timeout=30)
    child.join(timeout=30)
    assert child.exitcode == 0
    assert token != _TempNames.token
    assert len(token) == len(_TempNames.token)
