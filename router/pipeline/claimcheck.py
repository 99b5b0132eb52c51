"""The claim check as data: when a package travels as a reference, and what the reference says.

A package larger than `threshold_bytes` (default 8 MiB, well under RabbitMQ 4.x's 16 MiB
`max_message_size`) is stored once in the payload store (adapters/payloadstore.py) and each
copy carries this small JSON reference instead of the bytes: the digest that names and verifies
the payload, its size, and the store it is in. Pure: no I/O, no pika.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

DEFAULT_THRESHOLD_BYTES = 8 * 1024 * 1024
#: header a copy carries when its body is a reference (a hub reads the body accordingly)
CLAIM_HEADER = "lt-claim"
_FORMAT = "lienthong-claim/1"


class ClaimError(ValueError):
    """A body that says it is a reference but is not a valid one."""


@dataclass(frozen=True, slots=True)
class ClaimReference:
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
        if len(digest) != 64 or size < 0:
            raise ClaimError("a claim reference without a SHA-256 digest and a size")
        return cls(digest, size, store)


def should_claim(size: int, threshold_bytes: int = DEFAULT_THRESHOLD_BYTES) -> bool:
    """Above the threshold the bytes go to the payload store; at or below it, through the broker."""
    return threshold_bytes > 0 and size > threshold_bytes
