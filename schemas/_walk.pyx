# cython: language_level=3, boundscheck=False, wraparound=False
"""The children of one element grouped by canonical name, read from libxml2's nodes in C.

`schemas.build.Kids` in Python reads every child's `.tag` and every first leaf's `.text`: lxml
builds a new `{namespace}local` string for each `.tag`, and the loop around it is interpreted;
together they were about two fifths of building the model. This function does the same
grouping over the C nodes: a child is in the edXML namespace when its `ns->href` equals it
(no string built), its local name is looked up as bytes, and the text of a first leaf is
lxml's own `textOf` (the same `.text`, through lxml's public C API). The element proxies it
returns are lxml's own (`elementFactory`), so they are the objects `iter()` gives.

Only comments, processing instructions and entity references are among an element's children
in lxml's iteration besides elements; `Kids` skips them (their tag is not a string) and so does
this (only `XML_ELEMENT_NODE`). Built by scripts/build_native.py with Cython; used only when
the build is current (schemas/__init__.py); tests/unit/test_schemas_native.py compares both.
"""

from libc.string cimport strcmp
from lxml.includes cimport tree
from lxml.includes.etreepublic cimport _Element, elementFactory, import_lxml__etree, textOf

import_lxml__etree()

cdef bytes _NS = b"http://www.mic.gov.vn/TBT/QCVN_102_2016"


def group(_Element el not None, dict ns_names not None, dict any_ns not None, frozenset leaves not None):
    """(first, texts, more, extras) as `schemas.build.Kids` makes them (see there)."""
    cdef tree.xmlNode* c = el._c_node.children
    cdef const char* ns = _NS
    cdef dict first = {}
    cdef dict texts = {}
    cdef dict more = None
    cdef list extras = None
    cdef bint any_names = len(any_ns) > 0
    while c is not NULL:
        if c.type == tree.XML_ELEMENT_NODE:
            local = <bytes>(<const char*>c.name)
            name = None
            if c.ns is not NULL and c.ns.href is not NULL and strcmp(<const char*>c.ns.href, ns) == 0:
                name = ns_names.get(local)
            if name is None and any_names:
                name = any_ns.get(local)
            child = elementFactory(el._doc, c)
            if name is None:
                if extras is None:
                    extras = []
                extras.append(child)
            elif name in first:
                if more is None:
                    more = {}
                more.setdefault(name, []).append(child)
            else:
                first[name] = child
                if name in leaves:
                    text = textOf(c)
                    texts[name] = text.strip() if text else ""
        c = c.next
    return first, texts, more, extras
