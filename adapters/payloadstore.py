"""A content-addressed payload store: large packages stored once, outside the broker.

Why: RabbitMQ 4.x refuses messages over 16 MiB by default (`max_message_size`) and every byte in
a quorum queue is written to a Raft log on each member; signed scans of 50 MB and more are real.
A package above the claim-check threshold is stored here once, under its SHA-256, and travels
through the broker as a small reference (router/pipeline/claimcheck.py). Delivery reads it back
verified against the digest, so a damaged or swapped file is a named failure, never bytes
handed to a DMS.

Layout (a local or shared folder): `<root>/<d[:2]>/<d>` for digest `d`; written to a temporary
name in the same folder, fsynced, then renamed, so a reader never sees half a payload and
storing the same bytes twice (a re-delivered intake message) is a no-op. Streaming both ways:
memory stays at one chunk whatever the size.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024
_HEX = frozenset("0123456789abcdef")


class PayloadError(RuntimeError):
    """Base of the store's named failures (the failure policy decides what follows)."""


class PayloadMissing(PayloadError):
    pass


class PayloadCorrupt(PayloadError):
    pass


@dataclass(frozen=True, slots=True)
class Stored:
    digest: str
    size: int
    #: False when the same bytes were already in the store
    written: bool


class ClaimError(ValueError):
    """A body that says it is a reference but is not a valid one."""


_FORMAT = "lienthong-claim/1"


@dataclass(frozen=True, slots=True)
class ClaimReference:
    """What a claim-checked copy carries instead of the package: the digest that names and
    verifies the payload, its size, and the store it is in. Defined beside the store because the
    adapters that stream a large file in (drop folders, the axis-compatible API) write it too."""

    digest: str
    size: int
    store: str = "folder"

    def encode(self) -> bytes:
        return json.dumps({"format": _FORMAT, "digest": self.digest, "size": self.size, "store": self.store},
                          sort_keys=True).encode()

    @classmethod
    def decode(cls, body: bytes) -> ClaimReference:
        try:
            data = json.loads(body)
            if data.get("format") != _FORMAT:
                raise ClaimError("not a claim reference")
            digest, size, store = str(data["digest"]), int(data["size"]), str(data["store"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ClaimError("a claim reference that cannot be read") from exc
        if len(digest) != 64 or not set(digest) <= _HEX or size < 0:
            raise ClaimError("a claim reference without a SHA-256 digest and a size")
        return cls(digest, size, store)

    @classmethod
    def of(cls, stored: Stored, store: str = "folder") -> ClaimReference:
        return cls(stored.digest, stored.size, store)


class PayloadStore(Protocol):
    """What intake, delivery and the sweep need of a store: `FolderPayloadStore` here, and
    `S3PayloadStore` (adapters/payloadstore_s3.py) on an S3-compatible bucket; `name` is what
    references to it carry (`store` in ClaimReference). `router.hub.payload_store_of` chooses."""

    name: str

    def put(self, data: bytes) -> Stored: ...

    def put_stream(self, chunks: Iterable[bytes]) -> Stored: ...

    def has(self, digest: str, size: int | None = None) -> bool: ...

    def open_verified(self, digest: str, size: int | None = None) -> Iterator[bytes]: ...

    def read_verified(self, digest: str, size: int | None = None) -> bytes: ...

    def sweep(self, still_needed: Callable[[str], bool], retention_s: float, now: float | None = None) -> list[str]:
        ...


def file_chunks(fh: BinaryIO, size: int = 1024 * 1024) -> Iterator[bytes]:
    """A binary file in chunks (a drop-folder file, an upload spooled to disk) for `put_stream`."""
    while chunk := fh.read(size):
        yield chunk


def check_digest(digest: str) -> str:
    if len(digest) != 64 or not set(digest) <= _HEX:
        raise ValueError("a payload is named by the lowercase hex SHA-256 of its bytes")
    return digest


class FolderPayloadStore:
    """The store on a folder (local disk or a shared mount every hub process sees)."""

    name = "folder"

    def __init__(self, root: Path) -> None:
        self.root = root

    def has(self, digest: str, size: int | None = None) -> bool:
        """Is the payload there (with that size)? A cheap check before anything is handed over;
        the bytes themselves are verified while they are read."""
        try:
            st = self.path(digest).stat()
        except FileNotFoundError:
            return False
        return size is None or st.st_size == size

    def path(self, digest: str) -> Path:
        d = check_digest(digest)
        return self.root / d[:2] / d

    def put(self, data: bytes) -> Stored:
        return self.put_stream([data])

    def put_stream(self, chunks: Iterable[bytes]) -> Stored:
        """Store the bytes; their digest is computed on the way (never trusted from the caller)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tmp-{uuid.uuid4().hex}"
        h = hashlib.sha256()
        size = 0
        try:
            with tmp.open("wb") as out:
                for chunk in chunks:
                    h.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            final = self.path(h.hexdigest())
            if final.exists() and final.stat().st_size == size:
                return Stored(h.hexdigest(), size, written=False)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            return Stored(h.hexdigest(), size, written=True)
        finally:
            tmp.unlink(missing_ok=True)

    def open_verified(self, digest: str, size: int | None = None) -> Iterator[bytes]:
        """The stored bytes in chunks; raises PayloadMissing before the first chunk, and
        PayloadCorrupt after the last one if the bytes do not hash to `digest` (a consumer
        writes to a temporary file and publishes it only when the iteration ends cleanly)."""
        path = self.path(digest)
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise PayloadMissing(f"payload {digest[:16]}… is not in the store") from None
        return self._read(fh, digest, size)

    @staticmethod
    def _read(fh: BinaryIO, digest: str, size: int | None) -> Iterator[bytes]:
        h = hashlib.sha256()
        n = 0
        with fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
                n += len(chunk)
                yield chunk
        if h.hexdigest() != digest or (size is not None and n != size):
            raise PayloadCorrupt(f"payload {digest[:16]}… does not match its digest ({n} bytes read)")

    def read_verified(self, digest: str, size: int | None = None) -> bytes:
        return b"".join(self.open_verified(digest, size))

    def sweep(self, still_needed: Callable[[str], bool], retention_s: float, now: float | None = None) -> list[str]:
        """Remove payloads no recipient needs any more (`still_needed(digest)` is False: every
        recipient has it) and stored longer ago than `retention_s`; returns the removed digests.
        Leftover temporary files older than the retention go too."""
        if not self.root.exists():
            return []
        now = time.time() if now is None else now
        removed: list[str] = []
        for sub in sorted(self.root.iterdir()):
            if sub.name.startswith(".tmp-"):
                if now - sub.stat().st_mtime > retention_s:
                    sub.unlink(missing_ok=True)
                continue
            if not sub.is_dir():
                continue
            for f in sorted(sub.iterdir()):
                if f.name.startswith(".") or now - f.stat().st_mtime <= retention_s or still_needed(f.name):
                    continue
                f.unlink(missing_ok=True)
                removed.append(f.name)
        return removed
