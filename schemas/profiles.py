"""Validation profiles: which findings refuse a package and which only warn.

Real traffic breaks the standard in ways that do not matter for carrying a document (the axis
appends a TraceHeader without OrganId, gateways leave out OrganName, SDK samples carry an
original's DocumentId in a change, domain.md §1.8, §7.3). A hub that refuses those refuses the
national axis. So every check reports what it sees with the standard's severity (`strict`, the
full QCVN behaviour), and the `default` profile re-grades each code by one table: an *error* is
what makes a package unsafe or unroutable (not XML, forbidden constructs, limits, not edXML, no
recipient that can be addressed, an attachment that does not decode or exceeds its limits, a
missing or forged sender, a secret document); everything else is a *warning*, still reported
with its code, path, line and message, stored, passed to the recipient and counted.

The XSD is graded the same way (schemas/xsdcheck.py): what the full XSD refuses but the routing
skeleton (the XSD with its `lt:relax` marks applied) accepts is a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from schemas.findings import Code, Finding, Severity


class Profile(StrEnum):
    DEFAULT = "default"
    STRICT = "strict"


_H = "/edXML/edXMLEnvelope/edXMLHeader"

#: The values routing reads: who sends (From), who receives (To; a status: ResponseFor/OrganId),
#: the identity (DocumentId; a status: ResponseFor/DocumentId), what kind of package it is
#: (BussinessDocType, StatusCode) and, for a status, the time its timeline is ordered by.
ROUTE_PATHS = re.compile(
    rf"^{_H}/(?:MessageHeader/(?:From/OrganId|To(?:\[[0-9]+\])?/OrganId|DocumentId|StatusCode|Timestamp"
    rf"|ResponseFor/(?:OrganId|DocumentId))|TraceHeaderList/Bussiness/BussinessDocType)\Z"
)


@dataclass(frozen=True, slots=True)
class Grade:
    """`severity` None: as the check found it (it already tells a hard bound from an advisory
    one). Otherwise that severity, except on `ROUTE_PATHS` when `route_stays` (as found there)."""

    severity: Severity | None
    why: str
    route_stays: bool = False


_AS_FOUND = None
_W = Severity.WARNING
_E = Severity.ERROR

#: code → grade in the default profile; the README table "Severity" is this table.
DEFAULT_GRADES: Mapping[Code, Grade] = MappingProxyType({
    Code.XML_MALFORMED: Grade(_E, "the package cannot be read"),
    Code.XML_FORBIDDEN_CONSTRUCT: Grade(_E, "unsafe (entity expansion, external resources)"),
    Code.XML_LIMIT_EXCEEDED: Grade(_E, "unsafe: one package must not take the hub's memory or time"),
    Code.NOT_EDXML: Grade(_E, "not a package the hub can route"),
    Code.SCHEMA_VIOLATION: Grade(
        _W, "error where the routing skeleton is broken (the XSD with its lt:relax marks: From/OrganId, "
        "To/OrganId, DocumentId, the containers, BussinessDocType, a status's ResponseFor and StatusCode) "
        "or a routing value is not an integer; warning for what only the full XSD asks (OrganName, "
        "TraceHeader/OrganId, Code, Subject …)", route_stays=True),
    Code.ORGAN_ID_INVALID: Grade(
        _W, "error on From, To and a status's ResponseFor (no addressable sender or recipient); "
        "warning in trace entries, Receiver lists and an edoc's ResponseFor (null, empty)", route_stays=True),
    Code.ORGAN_ID_NONSTANDARD: Grade(_W, "the tolerant shape is still a code"),
    Code.ORGAN_ID_LEGACY: Grade(_W, "pre-2020 codes linger in real traffic; routed as a code the directory "
                                    "does not know (national axis, or unknown recipient inside the tree)"),
    Code.ORGAN_ID_CONNECTOR: Grade(_W, "the national axis itself uses such ids for SaaS connectors; routed "
                                       "as a code outside the hub's tree (national axis)"),
    Code.DATE_INVALID: Grade(
        _W, "warning (DueDate before PromulgationDate is common in real traffic); error for a status "
        "Timestamp, which orders the status timeline", route_stays=True),
    Code.DATE_LEGACY_FORMAT: Grade(_W, "the date is read"),
    Code.CODE_LIST_VALUE: Grade(
        _W, "error for BussinessDocType (revoke/update/replace or new decides routing) and a StatusCode "
        "that is not two digits; warning for Priority (routed as normal), ReceiverType, DocumentType",
        route_stays=True),
    Code.RECIPIENT_MISSING: Grade(_E, "no recipient: nowhere to route"),
    Code.RECIPIENT_DUPLICATE: Grade(_W, "each recipient gets one copy anyway"),
    Code.DOCUMENT_ID_INCONSISTENT: Grade(_W, "a DocumentId is an identity, not a statement (domain §1.8); "
                                             "the SDK's change samples carry the original's"),
    Code.DOCUMENT_ID_OPAQUE: Grade(_W, "gateways send UUIDs; it is compared, never parsed"),
    Code.ATTACHMENT_MISMATCH: Grade(_W, "the attachments are carried byte for byte whatever the manifest says"),
    Code.ATTACHMENT_ENCODING: Grade(_E, "an attachment that does not decode cannot be verified or used"),
    Code.ATTACHMENT_TOO_LARGE: Grade(_E, "unsafe: limits"),
    Code.TARGET_MISSING: Grade(_W, "the target is then the package's own DocumentId (the SDK's convention)"),
    Code.SECRET_DOCUMENT: Grade(_E, "secret documents must not travel on the axis (Decision 28)"),
    Code.RESPONSE_FOR_INCOMPLETE: Grade(
        _W, "error for a status without ResponseFor/OrganId or DocumentId (nowhere to go, nothing it is "
        "about); warning otherwise (the 2019 axis sent an empty ResponseFor)", route_stays=True),
    Code.FIELD_TOO_LONG: Grade(_AS_FOUND, "error past a hard bound (headers, ledger columns); warning past a "
                                          "hub validator's advisory length"),
    Code.TOO_MANY_RECIPIENTS: Grade(_E, "an amplification bound: one package must not fan out past the "
                                        "operator's cap (LIENTHONG_MAX_RECIPIENTS, at most 300)"),
})


def grade(findings: Iterable[Finding], profile: Profile) -> list[Finding]:
    """The findings with the profile's severities (strict: as found)."""
    if profile is Profile.STRICT:
        return list(findings)
    out = []
    for f in findings:
        severity = severity_of(f, profile)
        out.append(f if severity is f.severity else f.model_copy(update={"severity": severity}))
    return out


def severity_of(f: Finding, profile: Profile) -> Severity:
    rule = DEFAULT_GRADES.get(f.code)
    if profile is Profile.STRICT or rule is None or rule.severity is None:
        return f.severity
    if rule.route_stays and ROUTE_PATHS.match(f.path):
        return f.severity
    return rule.severity
