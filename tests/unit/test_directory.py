"""The directory: the Nghệ An sample, resolution (forwarding, outcomes), serving rules."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from router.directory.model import SAMPLE_DIRECTORY, Directory, load_directory

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(SAMPLE_DIRECTORY)


def test_sample_has_the_promised_shape(directory: Directory) -> None:
    organs = list(directory.organs)
    h41 = [o for o in organs if o.code.endswith(".H41")]
    departments = [o for o in h41 if o.level == 2 and o.name.startswith(("Sở", "Văn phòng", "Thanh tra", "Ban"))]
    districts = [o for o in h41 if o.level == 2 and o.name.startswith("Ủy ban nhân dân")]
    communes = [o for o in h41 if o.level == 3 and re.match(r"Ủy ban nhân dân (xã|phường|thị trấn)", o.name)]
    assert len(departments) >= 20
    assert len(districts) >= 20
    assert len(communes) >= 60
    assert all(directory.organ(c.parent or "") in districts for c in communes)
    assert Counter(o.level for o in h41)[4] >= 3
    assert directory.organ("000.00.00.H41").name == "Ủy ban nhân dân tỉnh Nghệ An"  # type: ignore[union-attr]
    assert directory.organ("000.00.00.G22").name == "Văn phòng Chính phủ"  # type: ignore[union-attr]
    for ministry in ("000.00.00.G09", "000.00.00.G12"):
        assert any(o.parent == ministry and o.level == 2 for o in organs), ministry
    assert sum(1 for o in organs if o.successor) >= 2
    assert set(directory.systems) == {"tinh-nghean", "huyen-thanhchuong", "truc-quoc-gia"}
    assert directory.gateway.id == "truc-quoc-gia"
    assert directory.local_roots == frozenset({"000.00.00.H41"})


def test_every_organ_of_the_shared_samples_is_in_the_directory_with_its_name(
    directory: Directory, samples_dir: Path
) -> None:
    pair = re.compile(r"<edXML:OrganId>([^<]+)</edXML:OrganId>\s*(?:<[^>]+>[^<]*</[^>]+>\s*)?"
                      r"(?:<edXML:OrganName>([^<]+)</edXML:OrganName>)?")
    seen = 0
    for sample in sorted(samples_dir.glob("*.xml")):
        for code, name in pair.findall(sample.read_text(encoding="utf-8")):
            organ = directory.organ(code)
            assert organ is not None, f"{sample.name}: {code} missing from the directory"
            if name:
                assert organ.name == name, f"{sample.name}: {code} is {name!r} in the sample"
            seen += 1
    assert seen >= 10


def test_vietnamese_names_survive_loading(directory: Directory) -> None:
    assert directory.organ("000.31.25.H41").name == "Ủy ban nhân dân xã Thanh Hưng"  # type: ignore[union-attr]
    assert directory.organ("000.00.29.H41").name == "Ủy ban nhân dân huyện Đô Lương"  # type: ignore[union-attr]


def test_resolve_local_by_the_most_specific_system(directory: Directory) -> None:
    province = directory.resolve("000.00.13.H41")
    assert (province.outcome, province.system.id, province.forwarded) == ("local", "tinh-nghean", ())  # type: ignore[union-attr]
    commune = directory.resolve("000.31.25.H41")
    assert (commune.outcome, commune.system.id) == ("local", "huyen-thanhchuong")  # type: ignore[union-attr]
    unit = directory.resolve("001.31.25.H41")
    assert unit.system.id == "huyen-thanhchuong"  # type: ignore[union-attr]
    assert directory.resolve("000.00.00.H41").system.id == "tinh-nghean"  # type: ignore[union-attr]


def test_dissolved_organ_forwards_through_the_chain_and_says_so(directory: Directory) -> None:
    res = directory.resolve("000.33.25.H41", on=date(2026, 1, 1))
    assert res.forwarded == ("000.33.25.H41", "000.32.25.H41")
    assert res.code == "000.31.25.H41"
    assert res.organ.name == "Ủy ban nhân dân xã Thanh Hưng"  # type: ignore[union-attr]
    assert res.outcome == "local"
    between = directory.resolve("000.33.25.H41", on=date(2022, 5, 1))
    assert between.forwarded == ("000.33.25.H41",) and between.code == "000.32.25.H41"
    before = directory.resolve("000.00.05.H41", on=date(2025, 2, 28))  # valid_to is inclusive
    assert before.forwarded == () and before.code == "000.00.05.H41"
    after = directory.resolve("000.00.05.H41", on=date(2025, 3, 1))
    assert after.forwarded == ("000.00.05.H41",) and after.code == "000.00.04.H41"


def test_outcomes_external_unknown_invalid(directory: Directory) -> None:
    known_external = directory.resolve("000.00.00.G22")
    assert (known_external.outcome, known_external.system) == ("external", directory.gateway)
    assert known_external.organ is not None
    unknown_external = directory.resolve("000.00.00.H29")
    assert (unknown_external.outcome, unknown_external.organ) == ("external", None)
    assert unknown_external.system == directory.gateway
    unknown_local = directory.resolve("000.00.99.H41")
    assert (unknown_local.outcome, unknown_local.system, unknown_local.organ) == ("unknown_local", None, None)
    invalid = directory.resolve("H41.DN.001")
    assert (invalid.outcome, invalid.system) == ("invalid", None)
    assert not invalid.deliverable and not unknown_local.deliverable


def test_dissolved_without_successor_is_not_delivered_locally() -> None:
    d = Directory.from_dict(_base(organs_extra=[
        {"code": "000.00.02.H41", "name": "Sở cũ", "valid_to": "2020-01-01"},
    ]))
    res = d.resolve("000.00.02.H41", on=date(2021, 1, 1))
    assert res.outcome == "unknown_local" and res.system is None and "without successor" in res.reason
    assert d.resolve("000.00.02.H41", on=date(2019, 1, 1)).outcome == "local"


def test_serves_gives_each_organ_to_one_system(directory: Directory) -> None:
    assert directory.serves("huyen-thanhchuong", "000.31.25.H41")
    assert not directory.serves("tinh-nghean", "000.31.25.H41")
    assert directory.serves("tinh-nghean", "000.00.13.H41")
    assert not directory.serves("huyen-thanhchuong", "000.00.13.H41")
    assert directory.serves("truc-quoc-gia", "000.00.00.G22")
    assert directory.serves("truc-quoc-gia", "000.00.00.H29")  # unknown, outside the tree
    assert not directory.serves("truc-quoc-gia", "000.00.13.H41")
    assert not any(directory.serves(s, "000.00.99.H41") for s in directory.systems)
    for organ in directory.organs:
        assert sum(directory.serves(s, organ.code) for s in directory.systems) == 1, organ.code


def test_system_by_user(directory: Directory) -> None:
    assert directory.system_by_user("lt-huyen-thanhchuong").id == "huyen-thanhchuong"  # type: ignore[union-attr]
    assert directory.system_by_user("nobody") is None
    assert directory.systems["tinh-nghean"].delivery.adapter == "file"


class _NoScan(dict[str, Any]):
    """A dict that fails the test if anyone iterates it: lookups only."""

    def __iter__(self) -> Any:
        raise AssertionError("resolve scanned the directory")

    def values(self) -> Any:
        raise AssertionError("resolve scanned the directory")

    def items(self) -> Any:
        raise AssertionError("resolve scanned the directory")


def test_resolve_and_serves_are_lookups_not_scans() -> None:
    d = load_directory(SAMPLE_DIRECTORY)
    d._organs = _NoScan(d._organs)
    d._server = _NoScan(d._server)
    for code in ("000.33.25.H41", "000.00.13.H41", "000.00.00.H29", "000.00.99.H41", "bad", "000.00.00.G22"):
        d.resolve(code)
        d.serves("tinh-nghean", code)


def _base(organs_extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "organs": [
            {"code": "000.00.00.H41", "name": "Ủy ban nhân dân tỉnh Nghệ An"},
            {"code": "000.00.25.H41", "name": "Ủy ban nhân dân huyện Thanh Chương"},
            *(organs_extra or []),
        ],
        "systems": [
            {"id": "tinh", "name": "Tỉnh", "broker_user": "u-tinh", "serves": ["000.00.00.H41"],
             "delivery": {"adapter": "file", "options": {"dir": "x"}}},
            {"id": "gw", "name": "Trục", "broker_user": "u-gw", "gateway": True,
             "delivery": {"adapter": "file"}},
        ],
    }


def test_organs_can_be_iterated_more_than_once(directory: Directory) -> None:
    assert len(list(directory.organs)) == len(list(directory.organs)) == len(directory)


def test_default_day_is_the_vietnamese_calendar_day() -> None:
    from datetime import UTC, datetime, timedelta

    from router.directory.model import vietnam_today

    assert vietnam_today() == (datetime.now(UTC) + timedelta(hours=7)).date()
