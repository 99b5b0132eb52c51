from lxml import etree

def group(
    el: etree._Element,
    ns_names: tuple[tuple[bytes, str], ...],
    any_ns: tuple[tuple[bytes, str], ...],
    leaves: frozenset[str],
    /,
) -> tuple[
    dict[str, etree._Element], dict[str, str], dict[str, list[etree._Element]] | None, list[etree._Element] | None
]: ...

def too_deep(root: etree._Element, max_depth: int, /) -> bool: ...
