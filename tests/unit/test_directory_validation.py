"""Directory validation: every rule rejects bad input with an error that names the entry."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.registry import SINKS, Adapter, SinkOptions, SinkRegistry
from router.directory.model import SAMPLE_DIRECTORY, Directory, DirectoryError, load_directory
from tests.support.memory_sink import MemorySink

pytestmark = pytest.mark.unit

Data = dict[str, Any]


def base() -> Data:
    return {
        "organs": [
            {"code": "000.00.00.H41", "name": "Ủy ban nhân dân tỉnh Nghệ An"},
            {"code": "000.00.13.H41", "name": "Sở Thông tin và Truyền thông tỉnh Nghệ An"},
            {"code": "000.00.25.H41", "name": "Ủy ban nhân dân huyện Thanh Chương"},
            {"code": "000.31.25.H41", "name": "Ủy ban nhân dân xã Thanh Hưng"},
            {"code": "000.00.00.G22", "name": "Văn phòng Chính phủ"},
        ],
        "systems": [
            {"id": "tinh", "name": "Tỉnh", "broker_user": "u-tinh", "serves": ["000.00.00.H41"],
             "delivery": {"adapter": "file", "options": {"dir": "out/tinh"}}},
            {"id": "huyen", "name": "Huyện", "broker_user": "u-huyen", "serves": ["000.00.25.H41"],
             "delivery": {"adapter": "file", "options": {"dir": "/srv/lienthong/huyen"}}},
            {"id": "gw", "name": "Trục quốc gia", "broker_user": "u-gw", "gateway": True,
             "delivery": {"adapter": "file"}},
        ],
    }


def errors_of(data: Data) -> list[str]:
    with pytest.raises(DirectoryError) as info:
        Directory.from_dict(data)
    return info.value.errors


def test_base_is_valid() -> None:
    d = Directory.from_dict(base())
    assert d.resolve("000.31.25.H41").system.id == "huyen"  # type: ignore[union-attr]


def _organ(i: int, **changes: Any) -> Callable[[Data], None]:
    def mutate(d: Data) -> None:
        d["organs"][i].update(changes)
    return mutate


def _add_organ(**entry: Any) -> Callable[[Data], None]:
    return lambda d: d["organs"].append(entry)


def _system(i: int, **changes: Any) -> Callable[[Data], None]:
    def mutate(d: Data) -> None:
        d["systems"][i].update(changes)
    return mutate


CASES: list[tuple[str, Callable[[Data], None], str]] = [
    ("unknown parent", _add_organ(code="000.01.13.H41", name="TT", parent="000.00.99.H41"),
     "organs[5] (000.01.13.H41): parent 000.00.99.H41 not in directory"),
    ("code-derived parent missing", _add_organ(code="000.01.14.H41", name="TT"),
     "organs[5] (000.01.14.H41): parent 000.00.14.H41 not in directory"),
    ("duplicate code", _add_organ(code="000.00.13.H41", name="again"),
     "organs[5] (000.00.13.H41): duplicate code (first at organs[1])"),
    ("invalid code shape", _add_organ(code="H41.DN.001", name="doanh nghiệp"),
     "organs[5] (H41.DN.001): code 'H41.DN.001' is not of the shape LLL.KK.JJ.XNN"),
    ("missing name", _organ(1, name=""), "organs[1] (000.00.13.H41): name is required"),
    ("unknown field", _organ(1, parnet="000.00.00.H41"), "organs[1] (000.00.13.H41): unknown field 'parnet'"),
    ("parent in another tree", _organ(1, parent="000.00.00.G22"),
     "organs[1] (000.00.13.H41): parent 000.00.00.G22 is in another level-1 tree"),
    ("parent cycle", lambda d: (d["organs"][1].update(parent="000.00.25.H41"),
                                d["organs"][2].update(parent="000.00.13.H41")),
     "parent cycle"),
    ("successor unknown", _organ(1, valid_to="2025-02-28", successor="000.00.99.H41"),
     "organs[1] (000.00.13.H41): successor 000.00.99.H41 not in directory"),
    ("successor without valid_to", _organ(1, successor="000.00.25.H41"),
     "organs[1] (000.00.13.H41): successor 000.00.25.H41 given but no valid_to"),
    ("successor cycle", lambda d: (d["organs"][1].update(valid_to="2025-01-01", successor="000.00.25.H41"),
                                   d["organs"][2].update(valid_to="2025-06-01", successor="000.00.13.H41")),
     "successor cycle"),
    ("successor dissolved first", lambda d: (d["organs"][1].update(valid_to="2025-06-01", successor="000.00.25.H41"),
                                             d["organs"][2].update(valid_to="2025-01-01")),
     "organs[1] (000.00.13.H41): successor 000.00.25.H41 is dissolved (2025-01-01) no later than"),
    ("bad date", _organ(1, valid_to="31/12/2025"), "organs[1] (000.00.13.H41): valid_to '31/12/2025' is not an ISO date"),
    ("system serves unknown organ", _system(1, serves=["000.00.99.H41"]),
     "systems[1] (huyen): serves 000.00.99.H41, not in directory"),
    ("two systems serve the same root", _system(1, serves=["000.00.00.H41"]),
     "systems[1] (huyen): serves 000.00.00.H41, already served by system tinh"),
    ("duplicate broker user", _system(1, broker_user="u-tinh"),
     "systems[1] (huyen): duplicate broker_user 'u-tinh' (first at systems[0])"),
    ("duplicate id", _system(1, id="tinh"), "systems[1] (tinh): duplicate id (first at systems[0])"),
    ("bad id", _system(1, id="Huyện 1"), "systems[1] (Huyện 1): id must match"),
    ("no gateway", _system(2, gateway=False), "systems: no gateway"),
    ("two gateways", _system(1, gateway=True, serves=[]), "systems: more than one gateway (huyen, gw)"),
    ("gateway with serves", _system(2, serves=["000.00.00.G22"]),
     "systems[2] (gw): a gateway serves everything outside the hub's tree; list no `serves`"),
    ("missing delivery", lambda d: d["systems"][0].pop("delivery"),
     "systems[0] (tinh): delivery {adapter, options} is required"),
    ("bad adapter", _system(0, delivery={"adapter": "File System!"}), "systems[0] (tinh): delivery.adapter"),
    ("adapter not in this build", _system(1, delivery={"adapter": "http", "options": {"url": "http://127.0.0.1:1/"}}),
     "systems[1] (huyen): delivery.adapter 'http' is not available in this build (adapters: amqp, axis, file, folder, mailbox, shovel, webhook)"),
    ("misspelt option", _system(0, delivery={"adapter": "file", "options": {"dri": "out/tinh"}}),
     "systems[0] (tinh): delivery.options: unknown field 'dri'"),
    ("the once-documented path option", _system(0, delivery={"adapter": "file", "options": {"path": "out/tinh"}}),
     "systems[0] (tinh): delivery.options.path is not an option of the file adapter: the inbox folder is `dir`"),
    ("option of the wrong type", _system(0, delivery={"adapter": "file", "options": {"dir": 42}}),
     "systems[0] (tinh): delivery.options.dir: Input should be a valid string"),
    ("options not a mapping", _system(0, delivery={"adapter": "file", "options": ["out"]}),
     "systems[0] (tinh): delivery.options must be a mapping"),
    ("unknown delivery field", _system(0, delivery={"adapter": "file", "option": {}}),
     "systems[0] (tinh): delivery: unknown field 'option'"),
    ("gateway not a boolean", _system(2, gateway="yes"), "systems[2] (gw): gateway must be true or false"),
    ("serves not a list", _system(1, serves="000.00.25.H41"), "systems[1] (huyen): serves must be a list"),
    ("system not a mapping", lambda d: d["systems"].append("tinh"), "systems[3]: expected a mapping"),
    ("unknown top-level key", lambda d: d.update(sytems=[]), "unknown field 'sytems'"),
    ("root of a local tree unserved", _system(0, serves=["000.00.13.H41"]),
     "systems: level-1 root 000.00.00.H41 is served by no system"),
]


@pytest.mark.parametrize(("label", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_invalid_directory_names_the_entry(label: str, mutate: Callable[[Data], None], expected: str) -> None:
    data = copy.deepcopy(base())
    mutate(data)
    errors = errors_of(data)
    assert any(expected in e for e in errors), f"{label}: {expected!r} not in {errors}"


def test_an_invalid_entry_causes_no_derived_errors_in_its_neighbours() -> None:
    """A bad date on an organ a system serves, a typo in the gateway: one error each, not also
    "serves …, not in directory" or "no gateway"."""
    data = copy.deepcopy(base())
    data["organs"][2]["valid_to"] = "31/12/2025"
    data["systems"][2]["delivery"] = {"adapter": "file", "options": {"dri": "x"}}
    errors = errors_of(data)
    assert errors == [
        "organs[2] (000.00.25.H41): valid_to '31/12/2025' is not an ISO date (YYYY-MM-DD)",
        "systems[2] (gw): delivery.options: unknown field 'dri'",
    ]


def test_options_are_validated_by_the_adapters_given() -> None:
    """The registry is the one the directory is checked against: an adapter it has is accepted
    with its own options model, and the built options are that model."""
    class HttpOptions(SinkOptions):
        url: str

    folder = SINKS.get("file")
    assert folder is not None
    registry = SinkRegistry([folder, Adapter("http", HttpOptions, lambda options, place: MemorySink())])
    data = copy.deepcopy(base())
    data["systems"][1]["delivery"] = {"adapter": "http", "options": {"url": "http://127.0.0.1:1/"}}
    d = Directory.from_dict(data, registry)
    assert d.systems["huyen"].delivery.options == HttpOptions(url="http://127.0.0.1:1/")
    with pytest.raises(DirectoryError, match=r"delivery\.adapter 'http' is not available"):
        Directory.from_dict(data)


def test_all_errors_are_reported_at_once() -> None:
    data = copy.deepcopy(base())
    data["organs"].append({"code": "000.01.14.H41", "name": "a"})
    data["organs"].append({"code": "bad", "name": "b"})
    data["systems"][1]["broker_user"] = "u-tinh"
    errors = errors_of(data)
    assert len(errors) == 3, errors
    assert "3 error(s)" in str(DirectoryError(errors))


def test_load_directory_reports_yaml_and_shape_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("organs: [", encoding="utf-8")
    with pytest.raises(DirectoryError, match="not valid YAML"):
        load_directory(broken)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n", encoding="utf-8")
    with pytest.raises(DirectoryError, match="expected a mapping"):
        load_directory(listy)


def test_sample_file_is_valid_and_round_trips_dates() -> None:
    d = load_directory(SAMPLE_DIRECTORY)
    cua_lo = d.organ("000.00.22.H41")
    assert cua_lo is not None and cua_lo.valid_to is not None and cua_lo.successor == "000.00.21.H41"
