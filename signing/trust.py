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
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
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


@functools.lru_cache(maxsize=8)
def anchors(config: TrustConfig) -> Anchors:
    """Parsed once per process and configuration."""
    return Anchors(
        roots=tuple(asn1_x509.Certificate.load(d) for d in config.roots),
        intermediates=tuple(asn1_x509.Certificate.load(d) for d in config.intermediates),
        crls=tuple(asn1_crl.CertificateList.load(d) for d in config.crls),
    )


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
