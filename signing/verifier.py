"""The whole check for one package: XML signature (if any), then every PDF in every attachment.

This is what a worker process runs; `signing.stage` only schedules it.  Packages arrive already
parsed by `schemas` (the facts), but the XML signature is checked on the raw bytes: the router
forwards those bytes, so they are what must be signed.
"""

from __future__ import annotations

from signing.aggregate import attachment_verdict, package_verdict
from signing.chaincache import ChainCache
from signing.inputs import PackageFacts
from signing.pades import DocumentVerifier, PadesVerifier
from signing.trust import TrustConfig
from signing.unwrap import DEFAULT_ZIP_LIMITS, ZipLimits, unwrap
from signing.verdict import AttachmentVerdict, PackageVerdict
from signing.xmlsig import XmlSignatureVerifier


class PackageVerifier:
    def __init__(
        self,
        trust: TrustConfig,
        documents: DocumentVerifier | None = None,
        zip_limits: ZipLimits = DEFAULT_ZIP_LIMITS,
        cache: ChainCache | None = None,
    ) -> None:
        """`cache`: the certificate-path cache to use (a worker keeps one across trust reloads);
        a new one by default."""
        cache = cache if cache is not None else ChainCache()
        self._documents = documents or PadesVerifier(trust, cache)
        self._xml = XmlSignatureVerifier(trust, cache)
        self._zip_limits = zip_limits

    def verify(self, package: bytes | None, facts: PackageFacts) -> PackageVerdict:
        """`package` None: no edXML around the attachments (a PDF checked on its own)."""
        xml_report = self._xml.verify(package, facts) if package is not None else None
        return package_verdict(self.attachments(facts), xml_report)

    def attachments(self, facts: PackageFacts) -> tuple[AttachmentVerdict, ...]:
        verdicts = []
        for blob in facts.attachments:
            unwrapped = unwrap(blob.name, blob.data, self._zip_limits)
            checks = [self._documents.check(data, facts) for _name, data in unwrapped.pdfs]
            verdicts.append(attachment_verdict(blob, unwrapped, checks, facts))
        return tuple(verdicts)
