"""Apply PAdES signatures to a PDF: the person first, then the organization (Decree 30 Art. 13(7)).

Used by `lienthong sign`, by the tests to build the corpus and by the benchmark.  Each signature
is a separate incremental update in a new signature field, so the earlier one stays verifiable.
"""

from __future__ import annotations

import io

from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore


def _signer(key_pem: bytes, cert_pem: bytes) -> signers.SimpleSigner:
    """`cert_pem` is the signer's certificate followed by its chain (as `pki init` writes it)."""
    certs = list(load_certs_from_pemder_data(cert_pem))
    if not certs:
        raise ValueError("certificate file holds no certificate")
    key = load_private_key_from_pemder_data(key_pem, passphrase=None)
    return signers.SimpleSigner(
        signing_cert=certs[0],
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs(certs[1:]),  # type: ignore[no-untyped-call]
    )


def sign_pdf(
    pdf: bytes, key_pem: bytes, cert_pem: bytes, field_name: str, timestamper: TimeStamper | None = None
) -> bytes:
    """One PAdES (ETSI.CAdES.detached) signature appended as an incremental update; with a
    signature timestamp token from `timestamper` when given."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )
    out = signers.sign_pdf(writer, meta, signer=_signer(key_pem, cert_pem), timestamper=timestamper)
    return bytes(out.getvalue())


def sign_person_then_org(
    pdf: bytes,
    person: tuple[bytes, bytes] | None,
    organization: tuple[bytes, bytes] | None,
) -> bytes:
    """The order is the legal one: the clerk applies the organization's signature only to a
    document the competent person has already signed."""
    if person is not None:
        pdf = sign_pdf(pdf, *person, field_name="ChuKyCaNhan")
    if organization is not None:
        pdf = sign_pdf(pdf, *organization, field_name="ChuKyToChuc")
    return pdf
