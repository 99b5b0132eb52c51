"""Large packages for the claim-check tests: rendered around a streamed attachment, written to
disk without ever being held whole in memory, and hashed on the way."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from pathlib import Path

from schemas.render import render_edoc
from tests.support.edxml_factory import edoc_model, random_chunks

MiB = 1024 * 1024
_PLACEHOLDER = b"\x00LIENTHONG-BIG-PAYLOAD\x00"


def write_big_package(path: Path, payload_bytes: int, *, sender: str, recipients: Iterable[str], number: int,
                      seed: int = 11) -> tuple[str, int]:
    """An edoc from `sender` to `recipients` whose one attachment holds `payload_bytes`
    pseudo-random bytes (base64: the file is 4/3 of that); returns (SHA-256, size) of the file."""
    payloads = {"cid:van-ban-1": _PLACEHOLDER}
    text = render_edoc(edoc_model(payloads, sender=sender, recipients=tuple(recipients), number=str(number)), payloads)
    before, found, after = text.partition(base64.b64encode(_PLACEHOLDER))
    assert found, "placeholder not rendered"
    h = hashlib.sha256()
    size = 0
    with path.open("wb") as fh:
        for part in _parts(before, payload_bytes, seed, after):
            h.update(part)
            size += len(part)
            fh.write(part)
    return h.hexdigest(), size


def _parts(before: bytes, payload_bytes: int, seed: int, after: bytes) -> Iterable[bytes]:
    yield before
    for chunk in random_chunks(payload_bytes, seed=seed):  # 3 MiB chunks: base64 without padding inside
        yield base64.b64encode(chunk)
    yield after


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(MiB):
            h.update(chunk)
    return h.hexdigest()
