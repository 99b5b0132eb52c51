"""The certificate-path cache: pyhanko's chain validation (path building, key usage, revocation)
done once per certificate and trust snapshot, not once per document.

A province's documents are signed by a few hundred people and organs whose chains change only
when the trust material does, yet pyhanko builds and validates the same path (and walks the whole
CRL) for every signature.  Everything that validation reads is in the key or in the entry's
window, so a hit returns exactly what a fresh validation would:

* the signer's certificate and the other certificates the signature embeds (they join path
  building) — by the SHA-256 of their DER;
* the trust material (roots, intermediates, CRLs, revocation mode, algorithm settings) — by
  `TrustConfig.snapshot`; a new CRL is a new snapshot, so it can never hit an old entry;
* the validation moment — by the UTC day, and inside the day by a *quiet window*: the interval
  between the nearest instants at which any input's answer can flip (a certificate's notBefore or
  notAfter, a CRL's thisUpdate/nextUpdate or revocation date), shrunk by pyhanko's time tolerance.
  Validation at a moment near such an instant is never cached.

What is *not* cached is everything about the document: the signed bytes' digest, the signature
value, the signed attributes, coverage and changes after signing are checked for every signature
(signing.pades).  The cache lives in one worker process (bounded LRU); its hits and misses are
counted so the runtime can report them (lienthong_signature_chain_cache_total).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from asn1crypto import x509 as asn1_x509

from signing.trust import TrustConfig, anchors, validity_instants

DEFAULT_ENTRIES = 1024  # ~29 KiB each (tracemalloc, test PKI paths): ~30 MB per worker when full


@dataclass(frozen=True, slots=True)
class ChainKey:
    kind: str  # which check asked: "pades" (pyhanko's signature path step) or "xmldsig"
    signer: bytes  # SHA-256 of the signer certificate's DER
    embedded: bytes  # SHA-256 over the sorted DER of the other certificates the signature carries
    snapshot: str  # TrustConfig.snapshot
    day: dt.date  # UTC validation day


@dataclass(frozen=True, slots=True)
class ChainResult:
    """pyhanko's answer for one certificate path (generic_cms.validate_cert_usage): the AdES
    sub-indication (None: trusted), revocation details, the path found and its time horizon."""

    indication: Any
    revocation: Any
    path: Any
    time_horizon: dt.datetime | None


@dataclass(frozen=True, slots=True)
class XmlChainResult:
    """The XML signature's chain check (signing.xmlsig): the sub-reason and its detail, or None."""

    reason: Any
    detail: str


@dataclass(frozen=True, slots=True)
class _Entry:
    result: object
    valid_from: dt.datetime
    valid_until: dt.datetime


@dataclass(frozen=True, slots=True)
class CacheCounts:
    hits: int = 0
    misses: int = 0

    def __sub__(self, other: CacheCounts) -> CacheCounts:
        return CacheCounts(self.hits - other.hits, self.misses - other.misses)


class ChainCache:
    """Bounded LRU of chain results (`ChainResult`, `XmlChainResult` under their `kind`), one per
    worker process (thread-safe: a lock per access)."""

    def __init__(self, entries: int = DEFAULT_ENTRIES) -> None:
        if entries < 1:
            raise ValueError("a chain cache holds at least one entry")
        self._entries = entries
        self._data: OrderedDict[ChainKey, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = 0

    def get(self, key: ChainKey, moment: dt.datetime) -> object | None:
        """The cached result if it was computed for this key and `moment` lies in its window.
        Counts a hit or a miss."""
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and entry.valid_from <= moment <= entry.valid_until:
                self._data.move_to_end(key)
                self._hits += 1
                return entry.result
            self._misses += 1
            return None

    def put(self, key: ChainKey, result: object, window: tuple[dt.datetime, dt.datetime] | None) -> None:
        """Keep `result` for `window`; a result without a window (validated next to an instant
        where the answer flips) is not kept."""
        if window is None:
            return
        with self._lock:
            self._data[key] = _Entry(result, *window)
            self._data.move_to_end(key)
            while len(self._data) > self._entries:
                self._data.popitem(last=False)

    @property
    def counts(self) -> CacheCounts:
        with self._lock:
            return CacheCounts(self._hits, self._misses)

    def __len__(self) -> int:
        return len(self._data)


def chain_key(
    kind: str, signer: asn1_x509.Certificate, others: Iterable[asn1_x509.Certificate], snapshot: str, day: dt.date
) -> ChainKey:
    return ChainKey(
        kind,
        hashlib.sha256(signer.dump()).digest(),
        hashlib.sha256(b"".join(sorted(c.dump() for c in others))).digest(),
        snapshot,
        day,
    )


def remember(
    cache: ChainCache,
    key: ChainKey,
    result: object,
    trust: TrustConfig,
    moment: dt.datetime,
    certs: Iterable[asn1_x509.Certificate],
    tolerance: dt.timedelta,
) -> None:
    """Keep a result validated at `moment` for its quiet window: between the nearest instants
    of the trust material and of `certs` (the signer's and the embedded ones), shrunk by the
    validation's time `tolerance` plus a second.  Not kept when the validation's own moment is
    no longer on the key's day."""
    if moment.date() != key.day:
        return
    extra = tuple(t for c in certs for t in validity_instants(c))
    cache.put(key, result, anchors(trust).quiet_window(moment, extra, tolerance + dt.timedelta(seconds=1)))
