"""XSD validation with paths a clerk can read.

Fast path: the tree as received is validated against the namespaced XSD. Only when that fails
is a canonical copy (known elements in SDK order, vendor elements left out, `Status` →
`MessageHeader`, `Business` → `Bussiness`) validated against a namespace-free twin of the
same XSD, so libxml2 reports paths like `/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/To[2]`
and the copy's elements carry the original line numbers. Order and vendor variants therefore
pass; real structural errors are reported once, precisely.

Profiles (schemas/profiles.py): under `strict` what the full XSD refuses is an error. Under
`default` a package the full XSD refuses is checked against the routing skeleton too (the same
XSD with its `lt:relax` marks applied): what the skeleton refuses is an error, what only the full
XSD refuses a warning. A conforming package pays for one XSD pass either way.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Literal

from lxml import etree

from schemas.findings import Code, Finding, Severity, finding
from schemas.layout import EDOC, STATUS, Node
from schemas.profiles import Profile

Kind = Literal["edoc", "status"]
_XSD_DIR = resources.files("schemas") / "xsd"
_NS_ATTRS = re.compile(r'\s(?:targetNamespace|xmlns)="http://www\.mic\.gov\.vn/TBT/QCVN_102_2016"')
_XS = "http://www.w3.org/2001/XMLSchema"
RELAX = "{urn:lienthong:xsd-relax}relax"


class _LocalResolver(etree.Resolver):
    def __init__(self, strip_ns: bool, relaxed: bool) -> None:
        super().__init__()
        self.strip_ns = strip_ns
        self.relaxed = relaxed

    def resolve(self, system_url: str, public_id: str, context: object) -> object:  # type: ignore[override]
        name = system_url.rsplit("/", 1)[-1]
        return self.resolve_string(_xsd_text(name, self.strip_ns, self.relaxed), context)  # type: ignore[call-arg]


def _xsd_text(name: str, strip_ns: bool, relaxed: bool = False) -> str:
    text = (_XSD_DIR / name).read_text(encoding="utf-8")
    if relaxed:
        text = _relax(text)
    return _NS_ATTRS.sub("", text) if strip_ns else text


def _relax(text: str) -> str:
    """Apply the `lt:relax` marks: "optional" → minOccurs="0", "string" → type xs:string."""
    doc = etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
    for el in doc.iter(f"{{{_XS}}}element"):
        marks = (el.get(RELAX) or "").split()
        if "optional" in marks:
            el.set("minOccurs", "0")
        if "string" in marks:
            el.set("type", "xs:string")
    return etree.tostring(doc, encoding="unicode")


@cache
def schema(kind: Kind, *, namespaced: bool = True, relaxed: bool = False) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parser.resolvers.add(_LocalResolver(strip_ns=not namespaced, relaxed=relaxed))
    text = _xsd_text(f"{kind}.xsd", strip_ns=not namespaced, relaxed=relaxed).encode("utf-8")
    doc = etree.fromstring(text, parser, base_url=f"file:///lienthong-xsd/{kind}.xsd")
    return etree.XMLSchema(doc)


def _local(el: etree._Element) -> str:
    tag = el.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def canonical_copy(root: etree._Element, layout: Node) -> etree._Element:
    """Known elements, in canonical order, without namespace, with original line numbers."""
    out = etree.Element(layout.name)
    _copy_into(root, layout, out)
    return out


def _copy_into(src: etree._Element, node: Node, dst: etree._Element) -> None:
    dst.sourceline = src.sourceline
    for k, v in src.attrib.items():
        key = str(k)
        dst.set(etree.QName(key).localname if key.startswith("{") else key, str(v))
    if node.leaf:
        dst.text = src.text
        return
    groups: dict[str, list[etree._Element]] = {}
    for c in src:
        if not isinstance(c.tag, str):
            continue
        spec = node.child(_local(c))
        if spec is not None:
            groups.setdefault(spec.name, []).append(c)
    for spec in node.children:
        for c in groups.get(spec.name, ()):
            copy = etree.SubElement(dst, spec.name)
            if spec.any_namespace:  # Signature: structure is checked by signing/, not here
                copy.sourceline = c.sourceline
                continue
            _copy_into(c, spec, copy)


def _readable_path(path: str, layout: Node) -> str:
    """libxml2 omits [1] on a lone repeated element; add it so `To[1]` always names the first."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return "/"
    node: Node | None = layout
    out = [parts[0]]
    for part in parts[1:]:
        name = part.split("[", 1)[0]
        node = node.child(name) if node is not None else None
        lone_repeatable = node is not None and node.many and "[" not in part
        out.append(f"{part}[1]" if lone_repeatable else part)
    return "/" + "/".join(out)


def validate_tree(root: etree._Element, kind: Kind, profile: Profile = Profile.STRICT) -> list[Finding]:
    """XSD findings, graded by `profile` (module docstring): errors refuse, warnings do not."""
    if schema(kind).validate(root):
        return []
    layout = EDOC if kind == "edoc" else STATUS
    copy = canonical_copy(root, layout)
    full = _findings(schema(kind, namespaced=False), copy, layout, Severity.ERROR)
    if not full or profile is Profile.STRICT:
        return full
    skeleton = _findings(schema(kind, namespaced=False, relaxed=True), copy, layout, Severity.ERROR)
    if skeleton:
        return skeleton
    return [f.model_copy(update={"severity": Severity.WARNING}) for f in full]


def _findings(xsd: etree.XMLSchema, copy: etree._Element, layout: Node, severity: Severity) -> list[Finding]:
    if xsd.validate(copy):
        return []
    findings = []
    for err in list(xsd.error_log):  # type: ignore[call-overload]
        msg = err.message
        findings.append(
            finding(
                Code.SCHEMA_VIOLATION,
                _readable_path(err.path or "/", layout),
                f"Sai cấu trúc theo lược đồ XSD: {msg}",
                f"XSD violation: {msg}",
                line=err.line or None,
                severity=severity,
            )
        )
    return findings
