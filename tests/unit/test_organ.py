from __future__ import annotations

import pytest

from schemas.organ import OrganId, OrganIdError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("code", "level", "parent", "key", "pattern"),
    [
        ("000.00.00.H41", 1, None, "H41.00.00.000", "H41.#"),
        ("000.00.24.H44", 2, "000.00.00.H44", "H44.24.00.000", "H44.24.#"),
        ("000.46.24.H44", 3, "000.00.24.H44", "H44.24.46.000", "H44.24.46.#"),
        ("001.46.24.H44", 4, "000.46.24.H44", "H44.24.46.001", "H44.24.46.001"),
        ("001.00.99.H44", 4, "000.00.99.H44", "H44.99.00.001", "H44.99.00.001"),
    ],
)
def test_level_parent_routing_key(code: str, level: int, parent: str | None, key: str, pattern: str) -> None:
    o = OrganId.parse(code)
    assert o.level == level
    assert (str(o.parent) if o.parent else None) == parent
    assert o.routing_key == key
    assert o.subtree_pattern == pattern
    assert o.shape == "strict"


def test_ancestors_walk_to_the_root() -> None:
    assert [str(a) for a in OrganId.parse("000.46.24.H44").ancestors()] == ["000.00.24.H44", "000.00.00.H44"]


def test_tolerant_shape_is_flagged_and_can_be_refused() -> None:
    assert OrganId.parse("0A0.00.B1.H41").shape == "tolerant"
    with pytest.raises(OrganIdError):
        OrganId.parse("0A0.00.B1.H41", tolerant=False)


@pytest.mark.parametrize("bad", ["", "H41", "000.00.00.h41", "28.22.H17", "H37.DN.001", "000.00.00.H41 ", "0000.00.00.H41"])
def test_invalid_codes(bad: str) -> None:
    assert not OrganId.is_valid(bad)
    with pytest.raises(OrganIdError):
        OrganId.parse(bad)
