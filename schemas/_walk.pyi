from lxml import etree

def group(
    el: etree._Element, ns_names: dict[bytes, str], any_ns: dict[bytes, str], leaves: frozenset[str], /
) -> tuple[
    dict[str, etree._Element], dict[str, str], dict[str, list[etree._Element]] | None, list[etree._Element] | None
]: ...
