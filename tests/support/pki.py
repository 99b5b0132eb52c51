# mypy: disable-error-code="no-untyped-call"
"""Test-PKI helpers for every suite: a generated PKI on disk, signed PDFs, edXML packages around
them, and the tampered variants of the acceptance corpus.

Everything is produced at test time with real keys (signing.testing.pki); nothing is a fixture file.
Other suites (router e2e) use `Corpus.package(...)` to get a signed or tampered edXML package.
"""

from __future__ import annotations

import base64
import io
import re
import uuid
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.signer import XMLSigner

from signing.inputs import AttachmentBlob, PackageFacts
from signing.testing import pki as testpki
from signing.testing.pdfsign import sign_person_then_org
from signing.trust import TrustConfig
from signing.xmlsig import DS, EDXML, hardened_parser, sign_package
from tests.support.services import ROOT

SIGNER = testpki.PERSON_MAU
ORGAN_ID, ORGAN_NAME = testpki.ORGAN_NGHE_AN


@dataclass
class Corpus:
    """One generated PKI written under `directory`, and builders for the acceptance corpus."""

    pki: testpki.TestPki
    directory: Path

    @cached_property
    def trust_dir(self) -> Path:
        return self.pki.write(self.directory)

    @cached_property
    def trust(self) -> TrustConfig:
        return TrustConfig.from_dir(self.trust_dir)

    def ident(self, name: str) -> tuple[bytes, bytes]:
        i = self.pki[name]
        return i.key_pem, i.cert_pem + i.chain_pem

    @cached_property
    def plain_pdf(self) -> bytes:
        return testpki.minimal_pdf("Cong van 1234/UBND-KGVX")

    def signed(self, person: str | None = "nguyen-van-mau", org: str | None = "org-nghe-an") -> bytes:
        return sign_person_then_org(
            self.plain_pdf,
            self.ident(person) if person else None,
            self.ident(org) if org else None,
        )

    @cached_property
    def both(self) -> bytes:
        return self.signed()


def facts(*attachments: AttachmentBlob, signer: str = SIGNER, organ: tuple[str, str] | None = None) -> PackageFacts:
    organ_id, organ_name = organ or (ORGAN_ID, ORGAN_NAME)
    return PackageFacts(signer, organ_id, organ_name, tuple(attachments))


def blob(data: bytes, name: str = "1234-UBND-KGVX.pdf", content_type: str = "application/pdf") -> AttachmentBlob:
    return AttachmentBlob(f"cid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}", name, content_type, data)


# ---- tampering ------------------------------------------------------------------------------


def flip_signed_byte(pdf: bytes) -> bytes:
    """Change one byte of the page text, inside every signature's byte range."""
    i = pdf.index(b"Cong van")
    return pdf[:i] + b"X" + pdf[i + 1 :]


def append_text_update(pdf: bytes) -> bytes:
    """An incremental update that draws new text on the page after signing."""
    w = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    page_ref, _ = w.find_page_for_modification(0)
    page = page_ref.get_object()
    stream = generic.StreamObject(stream_data=b"BT /F1 14 Tf 72 700 Td (Da duyet chi 1 ty) Tj ET")
    stream_ref = w.add_object(stream)
    contents = page["/Contents"]
    page["/Contents"] = generic.ArrayObject([contents, stream_ref])
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def add_annotation(pdf: bytes) -> bytes:
    """An incremental update that adds a text annotation (sticky note) after signing."""
    w = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    page_ref, _ = w.find_page_for_modification(0)
    page = page_ref.get_object()
    annot = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/Text"),
            generic.NameObject("/Rect"): generic.ArrayObject([generic.NumberObject(n) for n in (72, 600, 92, 620)]),
            generic.NameObject("/Contents"): generic.TextStringObject("Đã sửa sau khi ký"),
        }
    )
    annots = page.get("/Annots", generic.ArrayObject())
    annots = generic.ArrayObject([*annots, w.add_object(annot)])
    page["/Annots"] = annots
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def corrupt_signature_blob(pdf: bytes) -> bytes:
    """Overwrite the start of the last signature's /Contents (the CMS blob) with garbage hex;
    the byte ranges stay intact, so only the CMS structure is broken."""
    matches = list(re.finditer(rb"/Contents\s*<([0-9a-fA-F]+)>", pdf))
    start = matches[-1].start(1)
    return pdf[:start] + b"ff" * 16 + pdf[start + 32 :]


def truncate(pdf: bytes) -> bytes:
    return pdf[: len(pdf) * 2 // 3]


def zipped(pdf: bytes, inner_name: str = "5f0c8a1e-2b4d-4f7e-9a3c-1d2e3f4a5b6c.pdf") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(inner_name, pdf)
    return buf.getvalue()


def zip_bomb(size: int = 64 * 1024 * 1024) -> bytes:
    """A small archive that inflates to `size` zero bytes (starts like a PDF so it is read)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z, z.open("big.pdf", "w") as f:
        f.write(b"%PDF-1.7\n")
        chunk = b"\0" * (1024 * 1024)
        for _ in range(size // len(chunk)):
            f.write(chunk)
    return buf.getvalue()


# ---- edXML packages -------------------------------------------------------------------------

SAMPLE_EDOC = ROOT.parent / "shared" / "domain" / "samples" / "edoc_01_province_to_department_congvan.xml"


def package(*attachments: AttachmentBlob, signer: str = SIGNER) -> bytes:
    """Sample 1 (UBND tỉnh Nghệ An → Sở TT&TT, a valid edoc per `schemas`) with its placeholder
    XML signature removed and `attachments` in place of its own (base64, one line, SDK layout)."""
    text = SAMPLE_EDOC.read_text(encoding="utf-8")
    text = re.sub(r"<!--.*?-->\s*", "", text, flags=re.S)
    text = re.sub(r"\s*<Signature xmlns=.*?</Signature>", "", text, flags=re.S)
    text = text.replace(
        "<edXML:FullName>Nguyễn Văn Mẫu</edXML:FullName>", f"<edXML:FullName>{escape(signer)}</edXML:FullName>"
    )
    refs = "".join(
        f"<edXML:Reference><edXML:ContentId>{a.content_id}</edXML:ContentId>"
        f"<edXML:ContentType>{escape(a.content_type)}</edXML:ContentType>"
        f"<edXML:Description>Văn bản chính</edXML:Description>"
        f"<edXML:AttachmentName>{escape(a.name)}</edXML:AttachmentName></edXML:Reference>"
        for a in attachments
    )
    atts = "".join(
        f"<Attachment><ContentId>{a.content_id}</ContentId><AttachmentName>{escape(a.name)}</AttachmentName>"
        f"<Description>Văn bản chính</Description><ContentType>{escape(a.content_type)}</ContentType>"
        f"<ContentTransferEncoded>{base64.b64encode(a.data).decode()}</ContentTransferEncoded></Attachment>"
        for a in attachments
    )
    text = re.sub(
        r'(<edXML:edXMLManifest version="1.0">).*?(</edXML:edXMLManifest>)', rf"\g<1>{refs}\g<2>", text, flags=re.S
    )
    text = re.sub(r"(<AttachmentEncoded>).*?(</AttachmentEncoded>)", rf"\g<1>{atts}\g<2>", text, flags=re.S)
    return text.encode("utf-8")


def xml_signed(pkg: bytes, corpus: Corpus, who: str = "org-nghe-an") -> bytes:
    key, cert = corpus.ident(who)
    return sign_package(pkg, key, cert)


class _AnySigner(XMLSigner):
    """Test-only: lets the corpus produce the SHA-1 signatures real VNPT samples carry."""

    def check_deprecated_methods(self) -> None:
        return None


def xml_signed_with(
    pkg: bytes,
    corpus: Corpus,
    *,
    sha1: bool = False,
    default_namespace: bool = False,
    reference_uri: str | None = None,
    who: str = "org-nghe-an",
) -> bytes:
    """Sign like other implementations do: SHA-1 (VNPT samples), unprefixed xmldsig elements
    (what SDKs emit before the namespace declaration gets lost), or an ID reference."""
    key, cert = corpus.ident(who)
    root = etree.fromstring(pkg, hardened_parser())
    header = root.find(f"{{{EDXML}}}edXMLEnvelope/{{{EDXML}}}edXMLHeader")
    assert header is not None
    nsmap: dict[str | None, str] = {None: DS} if default_namespace else {"ds": DS}
    placeholder = etree.SubElement(header, f"{{{DS}}}Signature", nsmap=nsmap)  # type: ignore[arg-type]
    placeholder.set("Id", "placeholder")
    signer = _AnySigner(
        signature_algorithm=SignatureMethod.RSA_SHA1 if sha1 else SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA1 if sha1 else DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    if default_namespace:
        signer.namespaces = {None: DS}  # type: ignore[dict-item]
    cert_pems = [c + b"-----END CERTIFICATE-----\n" for c in cert.split(b"-----END CERTIFICATE-----\n") if c.strip()]
    signed = signer.sign(root, key=key, cert=[c.decode() for c in cert_pems], reference_uri=reference_uri)
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def strip_xmldsig_namespace(signed_pkg: bytes) -> bytes:
    """SDK style: the Signature block without its own namespace declaration, so it falls into
    the edXML default namespace (domain.md §1.2).  Needs an unprefixed signature."""
    out, n = re.subn(rb'<Signature xmlns="http://www\.w3\.org/2000/09/xmldsig#"', b"<Signature", signed_pkg)
    assert n == 1, "expected one unprefixed Signature"
    return out


def _tree(pkg: bytes) -> etree._Element:
    return etree.fromstring(pkg, hardened_parser())


def _header(root: etree._Element) -> etree._Element:
    h = root.find(f"{{{EDXML}}}edXMLEnvelope/{{{EDXML}}}edXMLHeader")
    assert h is not None
    return h


def _forged_header(original: etree._Element) -> etree._Element:
    forged = etree.fromstring(etree.tostring(original))
    organ = forged.find(f"{{{EDXML}}}From/{{{EDXML}}}OrganId")
    assert organ is not None
    organ.text = "000.00.00.G22"  # pretend to be Văn phòng Chính phủ
    return forged


def _child(parent: etree._Element, ns: str, tag: str) -> etree._Element:
    found = parent.find(f"{{{ns}}}{tag}")
    assert found is not None, tag
    return found


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def wrap_move_signed_header(signed_pkg: bytes) -> bytes:
    """Wrapping: the signed MessageHeader is moved into a ds:Object inside the Signature and a
    forged one takes its place where the router reads it."""
    root = _tree(signed_pkg)
    header = _header(root)
    original = _child(header, EDXML, "MessageHeader")
    obj = etree.SubElement(_child(header, DS, "Signature"), f"{{{DS}}}Object")
    header.replace(original, _forged_header(original))
    obj.append(original)
    return _serialize(root)


def wrap_duplicate_signature(signed_pkg: bytes) -> bytes:
    """A second (copied) Signature element: which one counts would be ambiguous."""
    root = _tree(signed_pkg)
    header = _header(root)
    header.append(etree.fromstring(etree.tostring(_child(header, DS, "Signature"))))
    return _serialize(root)


def wrap_second_message_header(signed_pkg: bytes) -> bytes:
    """A second, unsigned MessageHeader placed before the signed one."""
    root = _tree(signed_pkg)
    header = _header(root)
    header.insert(0, _forged_header(_child(header, EDXML, "MessageHeader")))
    return _serialize(root)


def wrap_id_reference(pkg: bytes, corpus: Corpus) -> bytes:
    """Classic wrapping: sign only MessageHeader[@Id] (URI="#mh"), then put a forged header
    first.  Caught because we require the reference to cover the whole package."""
    root = _tree(pkg)
    original = _header(root).find(f"{{{EDXML}}}MessageHeader")
    assert original is not None
    original.set("Id", "mh")
    signed = _tree(xml_signed_with(etree.tostring(root), corpus, reference_uri="#mh"))
    header = _header(signed)
    forged = _forged_header(header.find(f"{{{EDXML}}}MessageHeader"))  # type: ignore[arg-type]
    forged.attrib.pop("Id")
    header.insert(0, forged)
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def new_corpus(directory: Path) -> Corpus:
    """A freshly generated PKI written under `directory` (about half a second)."""
    return Corpus(testpki.generate(), directory)
