"""Trust set-up: the configured roots, intermediates and CRLs, and nothing else.

Trust is configured, never inherited: no operating-system store, no network fetching.  A
`TrustConfig` is a plain frozen value (DER bytes) so it can be pickled to worker processes; each
process turns it into pyhanko objects once (`anchors`) and a fresh `ValidationContext` per
verification, because a context pins its validation moment when it is created.

Directory layout (`TrustConfig.from_dir`)::

    roots/          *.pem|*.crt|*.cer|*.der   trust anchors (the Government CA root)
    intermediates/  same formats              issuing CAs (not trusted by themselves)
    crls/           *.crl|*.pem|*.der         current CRLs of every CA above
    trust.toml      optional: revocation = "soft-fail" | "hard-fail", allow_sha1 = false

Trust material changes while the hub runs (a CA publishes a new CRL every few days): a
`TrustSource` re-reads the directory whenever a file of it changed, and every configuration
carries a `snapshot` digest of everything it holds, so a result derived from one snapshot (the
certificate-path cache, signing.chaincache) is never used under another.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import hashlib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from asn1crypto import crl as asn1_crl
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

RevocationMode = Literal["soft-fail", "hard-fail"]
_CERT_SUFFIXES = {".pem", ".crt", ".cer", ".der"}
_CRL_SUFFIXES = {".crl", ".pem", ".der"}
WEAK_HASHES = frozenset({"md2", "md5", "sha1"})


class TrustConfigError(ValueError):
    """The trust directory cannot support the requested checks (a start-up error, not a verdict)."""


@dataclass(frozen=True)
class TrustConfig:
    roots: tuple[bytes, ...]
    intermediates: tuple[bytes, ...] = ()
    crls: tuple[bytes, ...] = ()
    revocation: RevocationMode = "soft-fail"
    allow_sha1: bool = False

    def __post_init__(self) -> None:
        if not self.roots:
            raise TrustConfigError("no trust roots configured: nothing could ever be trusted")
        if self.revocation not in ("soft-fail", "hard-fail"):
            raise TrustConfigError(f"revocation must be soft-fail or hard-fail, not {self.revocation!r}")
        if self.revocation == "hard-fail" and not self.crls:
            # pyhanko raises the same at context construction; say it at start-up, in our words.
            raise TrustConfigError("revocation = hard-fail needs CRL files in crls/ (fetching is disabled)")

    @classmethod
    def from_dir(cls, path: Path) -> TrustConfig:
        settings: dict[str, object] = {}
        toml = path / "trust.toml"
        if toml.is_file():
            settings = tomllib.loads(toml.read_text(encoding="utf-8"))
        revocation = str(settings.get("revocation", "soft-fail"))
        return cls(
            roots=_read_certs(path / "roots"),
            intermediates=_read_certs(path / "intermediates"),
            crls=_read_crls(path / "crls"),
            revocation=revocation,  # type: ignore[arg-type]  # checked in __post_init__
            allow_sha1=bool(settings.get("allow_sha1", False)),
        )

    @functools.cached_property
    def snapshot(self) -> str:
        """SHA-256 over every root, intermediate and CRL (in order) and the settings: equal
        snapshots validate every certificate path alike at the same moment."""
        h = hashlib.sha256()
        for label, items in (("roots", self.roots), ("intermediates", self.intermediates), ("crls", self.crls)):
            h.update(f"{label}:{len(items)};".encode())
            for der in items:
                h.update(len(der).to_bytes(8, "big") + der)
        h.update(f"revocation={self.revocation};allow_sha1={self.allow_sha1}".encode())
        return h.hexdigest()

    def validation_context(self) -> ValidationContext:
        """A fresh offline context (validation time = now)."""
        a = anchors(self)
        return ValidationContext(
            trust_roots=list(a.roots),
            other_certs=list(a.intermediates),
            crls=list(a.crls),
            allow_fetching=False,
            revinfo_policy=_revinfo_policy(self.revocation),
            weak_hash_algos=WEAK_HASHES - {"sha1"} if self.allow_sha1 else WEAK_HASHES,
        )


@dataclass(frozen=True)
class Anchors:
    roots: tuple[asn1_x509.Certificate, ...]
    intermediates: tuple[asn1_x509.Certificate, ...]
    crls: tuple[asn1_crl.CertificateList, ...]
    #: Sorted instants at which a validation under this trust material can change its answer:
    #: every certificate's notBefore/notAfter, every CRL's thisUpdate/nextUpdate and revocation date.
    instants: tuple[dt.datetime, ...] = field(default=())

    def quiet_window(
        self, moment: dt.datetime, extra: tuple[dt.datetime, ...], margin: dt.timedelta
    ) -> tuple[dt.datetime, dt.datetime] | None:
        """The interval around `moment` in which none of `instants` nor `extra` falls (each widened
        by `margin` on both sides); None when `moment` is within `margin` of one of them."""
        lo, hi = dt.datetime.min.replace(tzinfo=dt.UTC), dt.datetime.max.replace(tzinfo=dt.UTC)
        i = bisect.bisect_right(self.instants, moment)
        if i > 0:
            lo = self.instants[i - 1]
        if i < len(self.instants):
            hi = self.instants[i]
        for t in extra:
            if t <= moment:
                lo = max(lo, t)
            else:
                hi = min(hi, t)
        if moment - lo < margin or hi - moment <= margin:
            return None
        return lo + margin, hi - margin


@functools.lru_cache(maxsize=8)
def anchors(config: TrustConfig) -> Anchors:
    """Parsed once per process and configuration."""
    roots = tuple(asn1_x509.Certificate.load(d) for d in config.roots)
    intermediates = tuple(asn1_x509.Certificate.load(d) for d in config.intermediates)
    crls = tuple(asn1_crl.CertificateList.load(d) for d in config.crls)
    instants: set[dt.datetime] = set()
    for cert in roots + intermediates:
        instants.update(validity_instants(cert))
    for crl in crls:
        tbs = crl["tbs_cert_list"]
        instants.update(t for t in (tbs["this_update"].native, tbs["next_update"].native) if t is not None)
        instants.update(entry["revocation_date"].native for entry in tbs["revoked_certificates"])
    return Anchors(roots, intermediates, crls, tuple(sorted(instants)))


def validity_instants(cert: asn1_x509.Certificate) -> tuple[dt.datetime, dt.datetime]:
    validity = cert["tbs_certificate"]["validity"]
    return validity["not_before"].native, validity["not_after"].native


# Accept either: Government CA personal certificates assert nonRepudiation, organization ones
# often only digitalSignature.  pyhanko's default (nonRepudiation only) would reject the latter.
SIGNING_KEY_USAGE = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False)


def _revinfo_policy(mode: RevocationMode) -> CertRevTrustPolicy:
    """soft-fail: check a certificate against the configured CRLs when it declares a CRL
    distribution point, tolerate missing CRLs.  hard-fail: every certificate of the chain must be
    covered by a configured CRL, whether it declares one or not."""
    rule = RevocationCheckingRule.CRL_REQUIRED if mode == "hard-fail" else RevocationCheckingRule.CHECK_IF_DECLARED_SOFT
    return CertRevTrustPolicy(RevocationCheckingPolicy(rule, rule))


def _der_blocks(data: bytes, kinds: set[str]) -> list[bytes]:
    if pem.detect(data):
        return [der for kind, _h, der in pem.unarmor(data, multiple=True) if kind in kinds]
    return [data]


def _files(directory: Path, suffixes: set[str]) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def _read_certs(directory: Path) -> tuple[bytes, ...]:
    out: list[bytes] = []
    for p in _files(directory, _CERT_SUFFIXES):
        for der in _der_blocks(p.read_bytes(), {"CERTIFICATE"}):
            try:
                asn1_x509.Certificate.load(der).native  # noqa: B018  # force a full parse now
            except ValueError as exc:
                raise TrustConfigError(f"{p}: not an X.509 certificate ({exc})") from exc
            out.append(der)
    return tuple(out)


def _read_crls(directory: Path) -> tuple[bytes, ...]:
    out: list[bytes] = []
    for p in _files(directory, _CRL_SUFFIXES):
        for der in _der_blocks(p.read_bytes(), {"X509 CRL"}):
            try:
                asn1_crl.CertificateList.load(der).native  # noqa: B018
            except ValueError as exc:
                raise TrustConfigError(f"{p}: not a CRL ({exc})") from exc
            out.append(der)
    return tuple(out)


# ---- reloading ---------------------------------------------------------------------------------

_WATCHED = ("roots", "intermediates", "crls")


def _fingerprint(path: Path) -> tuple[tuple[str, int, int, int, int], ...]:
    """What `from_dir` reads, by name, inode, size and both change times: a file replaced,
    rewritten or touched shows up here without reading it (a stat per file per package)."""
    entries: list[tuple[str, int, int, int, int]] = []
    candidates = [path / "trust.toml"]
    for sub in _WATCHED:
        d = path / sub
        if d.is_dir():
            candidates += sorted(p for p in d.iterdir() if p.is_file())
    for p in candidates:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            continue
        entries.append((str(p.relative_to(path)), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(entries)


class TrustSource:
    """The trust configuration in effect now: fixed, or re-read from its directory when a file of
    it changed.

    Why: a CA revokes a signer by publishing a new CRL, and the next document that signer signs
    must be REVOKED without restarting the hub.  `current()` compares the directory's stat
    fingerprint (taken *before* reading, so a file changing mid-read is seen again next time) and
    re-reads on any difference.  A directory that no longer reads (a CRL half-written) raises
    `TrustConfigError`: verification is then infrastructure trouble (the package is retried),
    never a verdict made under the old material.  Picklable, so each worker process holds one.
    """

    def __init__(self, config: TrustConfig, directory: Path | None = None) -> None:
        self._directory = directory
        self._config = config
        self._seen = _fingerprint(directory) if directory is not None else ()

    @classmethod
    def from_dir(cls, path: Path) -> TrustSource:
        seen = _fingerprint(path)
        source = cls(TrustConfig.from_dir(path), path)
        source._seen = seen
        return source

    def current(self) -> TrustConfig:
        if self._directory is None:
            return self._config
        now = _fingerprint(self._directory)
        if now != self._seen:
            config = TrustConfig.from_dir(self._directory)  # raises: keep the old fingerprint, retry
            self._config, self._seen = config, now
        return self._config
