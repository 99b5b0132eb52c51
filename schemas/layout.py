"""The edXML element tree as data: names, canonical (SDK) order, cardinality, tolerated aliases.

One table drives normalisation for XSD validation, element paths in findings and rendering,
so the three can never disagree about what the standard looks like (domain.md §1.7).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

NS: Final = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
DSIG_NS: Final = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    children: tuple[Node, ...] = ()
    many: bool = False
    aliases: tuple[str, ...] = ()
    any_namespace: bool = False  # Signature: xmldsig namespace or (in real traffic) the edXML one

    @property
    def leaf(self) -> bool:
        return not self.children

    def child(self, name: str) -> Node | None:
        for c in self.children:
            if c.name == name or name in c.aliases:
                return c
        return None


def _leaves(*names: str) -> tuple[Node, ...]:
    return tuple(Node(n) for n in names)


ORGANIZATION_FIELDS: Final = (
    "OrganId", "OrganizationInCharge", "OrganName", "OrganAdd", "Email", "Telephone", "Fax", "Website",
)
STAFF_INFO = Node("StaffInfo", _leaves("Department", "Staff", "Mobile", "Email"))
RESPONSE_FOR_FIELDS: Final = ("OrganId", "Code", "PromulgationDate", "DocumentId")

EDOC_MESSAGE_HEADER = Node(
    "MessageHeader",
    (
        Node("From", _leaves(*ORGANIZATION_FIELDS)),
        Node("To", _leaves(*ORGANIZATION_FIELDS), many=True),
        Node("DocumentId"),
        Node("Code", _leaves("CodeNumber", "CodeNotation")),
        Node("PromulgationInfo", _leaves("Place", "PromulgationDate")),
        Node("DocumentType", _leaves("Type", "TypeDetail", "TypeName")),
        Node("Subject"),
        Node("Content"),
        Node("SignerInfo", _leaves("Competence", "Position", "FullName")),
        Node("DueDate"),
        Node(
            "OtherInfo",
            (
                *_leaves(
                    "Priority", "SphereOfPromulgation", "TyperNotation", "PromulgationAmount",
                    "PageAmount", "Direction",
                ),
                Node("Appendixes", (Node("Appendix", many=True),)),
            ),
        ),
        Node("ResponseFor", _leaves(*RESPONSE_FOR_FIELDS), many=True),
        Node("SteeringType"),
        Node("ToPlaces", (Node("Place", many=True),)),
    ),
)

TRACE_HEADER_LIST = Node(
    "TraceHeaderList",
    (
        Node("TraceHeader", _leaves("OrganId", "Timestamp"), many=True),
        Node(
            "Bussiness",
            (
                Node("BussinessDocType", aliases=("BusinessDocType",)),
                Node("BussinessDocReason", aliases=("BusinessDocReason",)),
                *_leaves("DocumentId", "Paper"),
                STAFF_INFO,
                Node(
                    "BussinessDocumentInfo",
                    (
                        *_leaves("DocumentInfo", "DocumentReceiver"),
                        Node("ReceiverList", (Node("Receiver", _leaves("OrganId", "ReceiverType"), many=True),)),
                    ),
                    aliases=("BusinessDocumentInfo",),
                ),
                Node(
                    "ReplacementInfoList",
                    (
                        Node(
                            "ReplacementInfo",
                            (Node("DocumentId"), Node("OrganIdList", (Node("OrganId", many=True),))),
                            many=True,
                        ),
                    ),
                ),
            ),
            aliases=("Business",),
        ),
    ),
)

SIGNATURE = Node("Signature", any_namespace=True)

REFERENCE = Node("Reference", _leaves("ContentId", "ContentType", "Description", "AttachmentName"), many=True)
ATTACHMENT = Node(
    "Attachment",
    _leaves("ContentId", "AttachmentName", "Description", "ContentType", "ContentTransferEncoded", "Format"),
    many=True,
)

EDOC = Node(
    "edXML",
    (
        Node(
            "edXMLEnvelope",
            (
                Node("edXMLHeader", (EDOC_MESSAGE_HEADER, TRACE_HEADER_LIST, SIGNATURE)),
                Node("edXMLBody", (Node("edXMLManifest", (REFERENCE,)),)),
            ),
        ),
        Node("AttachmentEncoded", (ATTACHMENT,)),
    ),
)

STATUS_MESSAGE_HEADER = Node(
    "MessageHeader",
    (
        Node("From", _leaves(*ORGANIZATION_FIELDS)),
        Node("ResponseFor", _leaves(*RESPONSE_FOR_FIELDS)),
        STAFF_INFO,
        Node("StatusCode"),
        Node("Description"),
        Node("Timestamp"),
    ),
    aliases=("Status",),
)

STATUS = Node(
    "edXML",
    (
        Node(
            "edXMLEnvelope",
            (Node("edXMLHeader", (STATUS_MESSAGE_HEADER, TRACE_HEADER_LIST, SIGNATURE)),),
        ),
    ),
)
