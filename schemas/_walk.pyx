# cython: language_level=3, boundscheck=False, wraparound=False
"""The children of one element grouped by canonical name, read from libxml2's nodes in C.

`schemas.build.Kids` in Python reads every child's `.tag` and every first leaf's `.text`: lxml
builds a new `{namespace}local` string for each `.tag`, and the loop around it is interpreted;
together they were about two fifths of building the model. This function does the same
grouping over the C nodes: a child is in the edXML namespace when its `ns->href` equals it, its
local name is found by comparing C strings with the layout's names (no string built, no hash),
and the text of a first leaf is what lxml's `.text` gives, stripped: read straight from a lone
text node, through lxml's own `textOf` otherwise. The element proxies it returns are lxml's own
(`elementFactory`), so they are the objects `iter()` gives.

Only comments, processing instructions and entity references are among an element's children
in lxml's iteration besides elements; `Kids` skips them (their tag is not a string) and so does
this (only `XML_ELEMENT_NODE`). Built by scripts/build_native.py with Cython; used only when
the build is current (schemas/__init__.py); tests/unit/test_schemas_native.py compares both.
"""

from cpython.bytes cimport PyBytes_AS_STRING
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport strcmp, strlen
from lxml.includes cimport tree
from lxml.includes.etreepublic cimport _Element, elementFactory, import_lxml__etree, textOf

import_lxml__etree()

cdef bytes _NS = b"http://www.mic.gov.vn/TBT/QCVN_102_2016"


cdef inline object _name(tuple table, const char* local):
    """The canonical name of `local` in a table of (local name as bytes, canonical name), or None."""
    cdef Py_ssize_t i
    cdef tuple entry
    cdef const char* key
    for i in range(len(table)):
        entry = <tuple>table[i]
        key = PyBytes_AS_STRING(entry[0])
        if key[0] == local[0] and strcmp(key, local) == 0:
            return entry[1]
    return None


cdef inline bint _ascii_space(char ch) noexcept:
    return ch == b' ' or ch == b'\t' or ch == b'\n' or ch == b'\r'


cdef inline bint _maybe_space(unsigned char ch) noexcept:
    """Whether `str.strip` might remove more from an end that starts with this byte: any non-ASCII
    character (U+00A0, U+2000…, U+3000 are whitespace to it), and the ASCII controls it counts."""
    return ch >= 0x80 or ch == 0x0b or ch == 0x0c or 0x1c <= ch <= 0x1f


cdef object _stripped_text(tree.xmlNode* c):
    """`(c.text or "").strip()`, as lxml and Python compute it."""
    cdef tree.xmlNode* t = c.children
    if t is NULL:
        return ""
    if t.type != tree.XML_TEXT_NODE or (t.next is not NULL and (
            t.next.type == tree.XML_TEXT_NODE or t.next.type == tree.XML_CDATA_SECTION_NODE
            or t.next.type == tree.XML_XINCLUDE_START or t.next.type == tree.XML_XINCLUDE_END)):
        text = textOf(c)  # several text nodes, CDATA, or none first: lxml's own collection
        return text.strip() if text else ""
    cdef const char* s = <const char*>t.content
    if s is NULL:
        return ""
    cdef Py_ssize_t start = 0
    cdef Py_ssize_t end = <Py_ssize_t>strlen(s)
    while start < end and _ascii_space(s[start]):
        start += 1
    while end > start and _ascii_space(s[end - 1]):
        end -= 1
    if start == end:
        return ""
    text = PyUnicode_DecodeUTF8(s + start, end - start, NULL)
    if _maybe_space(<unsigned char>s[start]) or _maybe_space(<unsigned char>s[end - 1]):
        return text.strip()
    return text


def group(_Element el not None, tuple ns_names not None, tuple any_ns not None, frozenset leaves not None):
    """(first, texts, more, extras) as `schemas.build.group` makes them (see there); the names as
    tables of (local name's UTF-8 bytes, canonical name), for the edXML namespace and for any."""
    cdef tree.xmlNode* c = el._c_node.children
    cdef const char* ns = _NS
    cdef const char* local
    cdef dict first = {}
    cdef dict texts = {}
    cdef dict more = None
    cdef list extras = None
    cdef bint any_names = len(any_ns) > 0
    while c is not NULL:
        if c.type == tree.XML_ELEMENT_NODE:
            local = <const char*>c.name
            name = None
            if c.ns is not NULL and c.ns.href is not NULL and strcmp(<const char*>c.ns.href, ns) == 0:
                name = _name(ns_names, local)
            if name is None and any_names:
                name = _name(any_ns, local)
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
                    texts[name] = _stripped_text(c)
        c = c.next
    return first, texts, more, extras


cdef inline tree.xmlNode* _element_from(tree.xmlNode* c) noexcept:
    """`c` or the first element among its following siblings, or NULL."""
    while c is not NULL and c.type != tree.XML_ELEMENT_NODE:
        c = c.next
    return c


def too_deep(_Element root not None, int max_depth):
    """Whether an element lies deeper than `max_depth` below the document (its root element at
    depth 1): what `schemas.reader._too_deep`'s XPath answers, walked without a proxy per element
    and without recursion (parent pointers), stopping at the first element too deep."""
    cdef tree.xmlNode* top = root._c_node
    cdef tree.xmlNode* c = top
    cdef tree.xmlNode* child
    cdef int depth = 1
    if depth > max_depth:
        return True
    while True:
        child = _element_from(c.children)
        if child is not NULL:
            depth += 1
            if depth > max_depth:
                return True
            c = child
            continue
        while c is not top:
            child = _element_from(c.next)
            if child is not NULL:
                c = child
                break
            c = c.parent
            depth -= 1
        else:
            return False
