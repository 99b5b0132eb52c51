"""Validation findings: the closed set of reason codes and the value every check returns.

A finding is data, not an exception, so one pass can report every problem a clerk must fix,
and the router can put the code into a status package without string matching.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, computed_field


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Code(StrEnum):
    """Closed set of reason codes. Documented in README §Reason codes; a test keeps them in sync."""

    XML_MALFORMED = "XML_MALFORMED"
    XML_FORBIDDEN_CONSTRUCT = "XML_FORBIDDEN_CONSTRUCT"
    XML_LIMIT_EXCEEDED = "XML_LIMIT_EXCEEDED"
    NOT_EDXML = "NOT_EDXML"
    SCHEMA_VIOLATION = "SCHEMA_VIOLATION"
    ORGAN_ID_INVALID = "ORGAN_ID_INVALID"
    DATE_INVALID = "DATE_INVALID"
    CODE_LIST_VALUE = "CODE_LIST_VALUE"
    RECIPIENT_MISSING = "RECIPIENT_MISSING"
    RECIPIENT_DUPLICATE = "RECIPIENT_DUPLICATE"
    DOCUMENT_ID_INCONSISTENT = "DOCUMENT_ID_INCONSISTENT"
    ATTACHMENT_MISMATCH = "ATTACHMENT_MISMATCH"
    ATTACHMENT_ENCODING = "ATTACHMENT_ENCODING"
    ATTACHMENT_TOO_LARGE = "ATTACHMENT_TOO_LARGE"
    TARGET_MISSING = "TARGET_MISSING"
    SECRET_DOCUMENT = "SECRET_DOCUMENT"  # noqa: S105 - a reason code, not a password
    RESPONSE_FOR_INCOMPLETE = "RESPONSE_FOR_INCOMPLETE"
    FIELD_TOO_LONG = "FIELD_TOO_LONG"
    TOO_MANY_RECIPIENTS = "TOO_MANY_RECIPIENTS"
    DOCUMENT_ID_OPAQUE = "DOCUMENT_ID_OPAQUE"
    DATE_LEGACY_FORMAT = "DATE_LEGACY_FORMAT"
    ORGAN_ID_NONSTANDARD = "ORGAN_ID_NONSTANDARD"
    ORGAN_ID_LEGACY = "ORGAN_ID_LEGACY"
    ORGAN_ID_CONNECTOR = "ORGAN_ID_CONNECTOR"
    # Raised by the router (same closed set, so a status Description always carries one code)
    USER_ID_MISSING = "USER_ID_MISSING"
    SENDER_UNKNOWN_SYSTEM = "SENDER_UNKNOWN_SYSTEM"
    SENDER_NOT_SERVED = "SENDER_NOT_SERVED"
    UNKNOWN_RECIPIENT = "UNKNOWN_RECIPIENT"
    DUPLICATE_CONFLICT = "DUPLICATE_CONFLICT"
    CHANGE_TARGET_UNKNOWN = "CHANGE_TARGET_UNKNOWN"
    STATUS_DOCUMENT_UNKNOWN = "STATUS_DOCUMENT_UNKNOWN"
    GATEWAY_RELAY = "GATEWAY_RELAY"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    SIGNATURE_MISSING = "SIGNATURE_MISSING"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    DELIVERY_REFUSED = "DELIVERY_REFUSED"
    HUB_FAILURE = "HUB_FAILURE"
    CRASH_LOOP = "CRASH_LOOP"
    ORIGINAL_NOT_DELIVERED = "ORIGINAL_NOT_DELIVERED"
    COPY_FORGED = "COPY_FORGED"
    PAYLOAD_MISSING = "PAYLOAD_MISSING"
    PAYLOAD_CORRUPT = "PAYLOAD_CORRUPT"


CODE_DESCRIPTIONS: dict[Code, str] = {
    Code.XML_MALFORMED: "Not well-formed XML, invalid UTF-8, undeclared prefix, truncated file",
    Code.XML_FORBIDDEN_CONSTRUCT: "DOCTYPE, entity declarations or other constructs refused for safety",
    Code.XML_LIMIT_EXCEEDED: "Size, depth, element-count or attachment-count limit exceeded",
    Code.NOT_EDXML: "Well-formed XML, but not an edXML edoc or status package (root, namespace)",
    Code.SCHEMA_VIOLATION: "Violates the XSD of schemas/xsd (missing/unexpected element, wrong type)",
    Code.ORGAN_ID_INVALID: "An OrganId does not have the LLL.KK.JJ.XNN shape",
    Code.DATE_INVALID: "A date is not a valid yyyy/MM/dd, is in the future, or DueDate precedes issue",
    Code.CODE_LIST_VALUE: "A value is outside its code list (Priority, BussinessDocType, StatusCode …)",
    Code.RECIPIENT_MISSING: "No To element in an edoc package",
    Code.RECIPIENT_DUPLICATE: "The same To/OrganId appears more than once",
    Code.DOCUMENT_ID_INCONSISTENT: "DocumentId disagrees with From/OrganId, PromulgationDate or Code",
    Code.ATTACHMENT_MISMATCH: "Manifest Reference and Attachment ContentIds do not match one to one",
    Code.ATTACHMENT_ENCODING: "ContentTransferEncoded is not valid base64",
    Code.ATTACHMENT_TOO_LARGE: "An attachment (or what a ZIP inside it expands to) exceeds the limit",
    Code.TARGET_MISSING: "A revoke/update/replace (BussinessDocType 1-3) names no target DocumentId",
    Code.SECRET_DOCUMENT: "Secret (MẬT) documents must not travel on the axis (Decision 28 Art. 2)",
    Code.RESPONSE_FOR_INCOMPLETE: "ResponseFor lacks OrganId, Code, PromulgationDate or DocumentId",
    Code.FIELD_TOO_LONG: "A value the hub carries in a header or ledger column exceeds its bound (schemas/limits.py), "
    "as a warning: longer than a hub validator's limit (domain §1.10)",
    Code.TOO_MANY_RECIPIENTS: "More To elements than the hub's cap per package (LIENTHONG_MAX_RECIPIENTS, at most 300)",
    Code.DOCUMENT_ID_OPAQUE: "Warning: DocumentId is not OrganId,yyyy/MM/dd,Number/Notation",
    Code.DATE_LEGACY_FORMAT: "Warning: a legacy dd/MM/yyyy date was accepted",
    Code.ORGAN_ID_NONSTANDARD: "Warning: an OrganId matches only the tolerant shape",
    Code.ORGAN_ID_LEGACY: "An OrganId of the pre-2020 three-group scheme (01.02.G22): no level, no parent",
    Code.ORGAN_ID_CONNECTOR: "An OrganId the national axis gives a shared SaaS connector (vxp.saas.03)",
    Code.USER_ID_MISSING: "The AMQP user_id property is absent: the submitting system is unknown",
    Code.SENDER_UNKNOWN_SYSTEM: "The broker user is not a system of the directory",
    Code.SENDER_NOT_SERVED: "From/OrganId is not served by the submitting system (forged sender)",
    Code.UNKNOWN_RECIPIENT: "A To/OrganId (or ResponseFor/OrganId) is inside the hub's tree but unknown",
    Code.DUPLICATE_CONFLICT: "Same From and DocumentId as an accepted package, but different bytes",
    Code.CHANGE_TARGET_UNKNOWN: "A revoke/update/replace about a document the hub never carried from this "
    "sender: unknown, or sent by another organ (one answer for both: nothing is revealed)",
    Code.STATUS_DOCUMENT_UNKNOWN: "A status about a document the hub never carried between this organ and "
    "ResponseFor/OrganId: 13 only from the sender, 01-06, 15, 16 only from an organ it was routed to",
    Code.GATEWAY_RELAY: "The national-axis gateway submitted a package from an external organ to an "
    "external organ: the hub does not relay between organs outside its tree",
    Code.SIGNATURE_INVALID: "A signature is invalid (sub-reason: INTEGRITY, MODIFIED_AFTER_SIGNING …)",
    Code.SIGNATURE_MISSING: "The system's policy requires signed documents and this one is not",
    Code.DELIVERY_FAILED: "The recipient system kept failing through every retry tier: parked",
    Code.DELIVERY_REFUSED: "The recipient system refused the package permanently: parked",
    Code.HUB_FAILURE: "A part of the hub (ledger, verifier, broker) kept failing through every retry tier: parked",
    Code.CRASH_LOOP: "The hub stopped repeatedly on this package (delivery limit), or the broker dead-lettered it",
    Code.ORIGINAL_NOT_DELIVERED: "A revoke/update/replace waited longer than allowed for its original: parked",
    Code.COPY_FORGED: "A message on a delivery queue the hub did not publish, or that the ledger does not know: "
    "recorded as an intrusion, never delivered or replayed",
    Code.PAYLOAD_MISSING: "A claim-checked package whose bytes are not in the payload store (removed, never "
    "written, another store): parked",
    Code.PAYLOAD_CORRUPT: "A claim-checked package whose stored bytes do not match its SHA-256: parked, never "
    "handed over",
}


class Finding(BaseModel):
    """One problem found in a package; `path` names the element as the edXML spec spells it."""

    model_config = ConfigDict(frozen=True)

    code: Code
    severity: Severity
    path: str
    line: int | None
    #: Vietnamese (for the clerk) and English (for the integrator), kept apart: a reader that
    #: needs one never has to split a joined text again.
    vi: str
    en: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def message(self) -> str:
        return f"{self.vi} / {self.en}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def finding(
    code: Code,
    path: str,
    vi: str,
    en: str,
    *,
    line: int | None = None,
    severity: Severity = Severity.ERROR,
) -> Finding:
    """Messages carry Vietnamese first (for the clerk) and English (for the integrator). Each
    is clipped: a message quoting a hostile value must not outgrow a status or the log."""
    return Finding(code=code, severity=severity, path=path, line=line, vi=_clip(vi), en=_clip(en))


MESSAGE_CHARS = 600  # per language


def _clip(text: str) -> str:
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


class PackageError(Exception):
    """The one exception the parser raises: the package cannot be read at all.

    It carries findings like any other outcome, so callers turn it into a rejection uniformly.
    """

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        super().__init__("; ".join(f"{f.code}: {f.message}" for f in findings))

    @property
    def code(self) -> Code:
        return self.findings[0].code
