"""A test PKI that mirrors the Government CA (Ban Cơ yếu Chính phủ) hierarchy, plus test PDFs.

Real traffic is signed with certificates of "Ban Cơ yếu Chính phủ / Trung tâm chứng thực điện tử
chuyên dùng Chính phủ": a root, an issuing intermediate, personal certificates (CN = person) and
organization certificates (O/CN = organ name, organ code in OU).  The tests, the demo and
`lienthong pki init` need the same shape with keys we control, including the broken variants a
verifier must recognise (expired, not yet valid, revoked, wrong key usage, foreign root).

Nothing here is used to verify anything: it only produces files.  It lives in the product (not in
tests/) because `lienthong pki init` and `lienthong sign` are user-facing commands.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ROOT_CN = "test Government CA"
ROOT_O = "test Ban Cơ yếu Chính phủ"
INTERMEDIATE_CN = "test Trung tâm CTĐT chuyên dùng Chính phủ"
FOREIGN_ROOT_CN = "test Untrusted Root CA"

PERSON_MAU = "Nguyễn Văn Mẫu"
PERSON_VIDU = "Hoàng Văn Ví Dụ"
ORGAN_NGHE_AN = ("000.00.00.H41", "Ủy ban nhân dân tỉnh Nghệ An")
ORGAN_SO_TTTT = ("000.00.13.H41", "Sở Thông tin và Truyền thông tỉnh Nghệ An")

KEY_BITS = 2048
CRL_BASE_URL = "http://ca.test.invalid/crl"


@dataclass(frozen=True)
class Identity:
    """One key and its certificate (plus the chain up to, excluding, the root)."""

    name: str
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)


@dataclass(frozen=True)
class TestPki:
    """Every identity of the test PKI; `write` lays it out as a trust directory + signer files."""

    root: Identity
    intermediate: Identity
    foreign_root: Identity
    identities: dict[str, Identity]
    intermediate_crl: x509.CertificateRevocationList
    root_crl: x509.CertificateRevocationList

    def __getitem__(self, name: str) -> Identity:
        return self.identities[name]

    def issue(
        self,
        name: str,
        cn: str,
        org: str,
        ou: str | None = None,
        *,
        valid: tuple[dt.datetime, dt.datetime] | None = None,
        organizational: bool = False,
    ) -> Identity:
        """One more leaf under the intermediate (bench signers, a certificate about to expire);
        serial numbers from 1000 up, so they never collide with the fixed ones."""
        now = dt.datetime.now(dt.UTC)
        not_before, not_after = valid or (now - dt.timedelta(days=30), now + dt.timedelta(days=730))
        key = _key()
        cert = _issue(
            _name(cn, org, ou),
            key,
            self.intermediate,
            ca=False,
            key_usage=_key_usage(**(_ORG_KU if organizational else _PERSONAL_KU)),
            not_before=not_before,
            not_after=not_after,
            serial=1000 + len(self.identities),
        )
        ident = Identity(name, key, cert, (self.intermediate.cert,))
        self.identities[name] = ident
        return ident

    def crl_revoking(self, *names: str, extra_serials: int = 0) -> bytes:
        """A newer intermediate CRL (DER, CRLNumber 2) revoking `names` besides what the first one
        revoked, padded with `extra_serials` revoked serials nobody holds (a real CA's CRL is long)."""
        now = dt.datetime.now(dt.UTC)
        entries = [(e.serial_number, e.revocation_date_utc) for e in self.intermediate_crl]
        entries += [(self[n].cert.serial_number, now - dt.timedelta(minutes=1)) for n in names]
        entries += [(10_000_000 + i, now - dt.timedelta(days=1 + i % 700)) for i in range(extra_serials)]
        crl = _crl(self.intermediate, entries, now, number=2)
        return crl.public_bytes(serialization.Encoding.DER)

    def write(self, directory: Path) -> Path:
        """Write trust/ (roots, intermediates, crls) and signers/<name>.{key,cert}.pem; returns trust/."""
        trust = directory / "trust"
        for sub in ("roots", "intermediates", "crls"):
            (trust / sub).mkdir(parents=True, exist_ok=True)
        (trust / "roots" / "test-government-ca.pem").write_bytes(self.root.cert_pem)
        (trust / "intermediates" / "test-chuyen-dung-chinh-phu.pem").write_bytes(self.intermediate.cert_pem)
        (trust / "crls" / "intermediate.crl").write_bytes(
            self.intermediate_crl.public_bytes(serialization.Encoding.DER)
        )
        (trust / "crls" / "root.crl").write_bytes(self.root_crl.public_bytes(serialization.Encoding.DER))
        (trust / "trust.toml").write_text('revocation = "soft-fail"\nallow_sha1 = false\n', encoding="utf-8")
        signers = directory / "signers"
        signers.mkdir(parents=True, exist_ok=True)
        for name, ident in {**self.identities, "foreign-root": self.foreign_root}.items():
            (signers / f"{name}.key.pem").write_bytes(ident.key_pem)
            (signers / f"{name}.cert.pem").write_bytes(ident.cert_pem + ident.chain_pem)
        return trust


def _name(cn: str, o: str | None = None, ou: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if o:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o))
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


_ALL_KU_OFF = dict.fromkeys(
    (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ),
    False,
)


def _key_usage(**on: bool) -> x509.KeyUsage:
    return x509.KeyUsage(**{**_ALL_KU_OFF, **on})


def _issue(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: Identity | None,
    *,
    ca: bool,
    key_usage: x509.KeyUsage,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int,
) -> x509.Certificate:
    issuer_name = issuer.cert.subject if issuer else subject
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca and issuer else None), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        # Real Government CA certificates declare where their CRL lives; revocation checking keys
        # off that declaration.  The URL is never fetched: the CRL comes from the trust directory.
        crl_url = f"{CRL_BASE_URL}/{issuer.name}.crl"
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        ).add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)]
            ),
            critical=False,
        )
    return builder.sign(signing_key, hashes.SHA256())


def _crl(
    issuer: Identity, revoked: Iterable[tuple[int, dt.datetime]], now: dt.datetime, number: int = 1
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=30))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(issuer.key, hashes.SHA256())


# (file name, CN, O, OU with organ code or None, key usage, validity offsets in days, revoked?)
_PERSONAL_KU = {"digital_signature": True, "content_commitment": True}
_ORG_KU = {"digital_signature": True}  # digitalSignature only: the verifier must accept it
_LEAVES: tuple[tuple[str, str, str, str | None, dict[str, bool], tuple[int, int], bool], ...] = (
    ("nguyen-van-mau", PERSON_MAU, ORGAN_NGHE_AN[1], None, _PERSONAL_KU, (-30, 730), False),
    ("hoang-van-vi-du", PERSON_VIDU, ORGAN_SO_TTTT[1], None, _PERSONAL_KU, (-30, 730), False),
    ("org-nghe-an", ORGAN_NGHE_AN[1], ORGAN_NGHE_AN[1], ORGAN_NGHE_AN[0], _ORG_KU, (-30, 730), False),
    ("org-so-tttt", ORGAN_SO_TTTT[1], ORGAN_SO_TTTT[1], ORGAN_SO_TTTT[0], _ORG_KU, (-30, 730), False),
    ("expired", PERSON_MAU, ORGAN_NGHE_AN[1], None, _PERSONAL_KU, (-400, -1), False),
    ("not-yet-valid", PERSON_MAU, ORGAN_NGHE_AN[1], None, _PERSONAL_KU, (30, 730), False),
    ("revoked", PERSON_MAU, ORGAN_NGHE_AN[1], None, _PERSONAL_KU, (-30, 730), True),
    ("wrong-key-usage", PERSON_MAU, ORGAN_NGHE_AN[1], None, {"key_encipherment": True}, (-30, 730), False),
)


def _ca(name: str, subject: x509.Name, issuer: Identity | None, serial: int, now: dt.datetime) -> Identity:
    key = _key()
    cert = _issue(
        subject,
        key,
        issuer,
        ca=True,
        key_usage=_key_usage(key_cert_sign=True, crl_sign=True),
        not_before=now - dt.timedelta(days=365),
        not_after=now + dt.timedelta(days=3650),
        serial=serial,
    )
    return Identity(name, key, cert, ())


def generate(now: dt.datetime | None = None) -> TestPki:
    """Build the whole test PKI in memory (about a dozen RSA-2048 keys: a second or two)."""
    now = now or dt.datetime.now(dt.UTC)
    root = _ca("root", _name(ROOT_CN, ROOT_O), None, 1, now)
    intermediate = _ca("intermediate", _name(INTERMEDIATE_CN, ROOT_O), root, 2, now)
    foreign_root = _ca("foreign-root", _name(FOREIGN_ROOT_CN, "test Untrusted"), None, 3, now)
    inter_cert, foreign_cert = intermediate.cert, foreign_root.cert

    identities: dict[str, Identity] = {}
    revoked: list[tuple[int, dt.datetime]] = []
    for serial, (fname, cn, org, ou, ku, (start, end), is_revoked) in enumerate(_LEAVES, start=100):
        key = _key()
        cert = _issue(
            _name(cn, org, ou),
            key,
            intermediate,
            ca=False,
            key_usage=_key_usage(**ku),
            not_before=now + dt.timedelta(days=start),
            not_after=now + dt.timedelta(days=end),
            serial=serial,
        )
        identities[fname] = Identity(fname, key, cert, (inter_cert,))
        if is_revoked:
            revoked.append((serial, now - dt.timedelta(days=1)))
    # Same person, chained to a root nobody configured: the "untrusted root" corpus case.
    key = _key()
    cert = _issue(
        _name(PERSON_MAU, ORGAN_NGHE_AN[1]),
        key,
        foreign_root,
        ca=False,
        key_usage=_key_usage(**_PERSONAL_KU),
        not_before=now - dt.timedelta(days=30),
        not_after=now + dt.timedelta(days=730),
        serial=200,
    )
    identities["untrusted"] = Identity("untrusted", key, cert, (foreign_cert,))
    return TestPki(
        root=root,
        intermediate=intermediate,
        foreign_root=foreign_root,
        identities=identities,
        intermediate_crl=_crl(intermediate, revoked, now),
        root_crl=_crl(root, (), now),
    )


def minimal_pdf(text: str = "Van ban dien tu", filler_bytes: int = 0) -> bytes:
    """A small, valid one-page PDF written by hand (correct xref), optionally padded with a
    compressed-then-stored filler stream so a benchmark can sign and verify a ~1 MB document."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
    ]
    content = f"BT /F1 14 Tf 72 770 Td ({text}) Tj ET".encode("latin-1")
    if filler_bytes:
        # Deterministic, poorly compressible comment lines: the file is big, the page unchanged.
        seed = zlib.crc32(text.encode())
        lines, size = [], 0
        while size < filler_bytes:
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            line = b"% " + f"{seed:010d}".encode() * 7 + b"\n"
            lines.append(line)
            size += len(line)
        content = content + b"\n" + b"".join(lines)
    objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
