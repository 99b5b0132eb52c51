"""A generated nation-sized directory: 34 provinces (the 2025 map), ~111,000 organs, ~1,000 systems.

The shape follows router/data/nghe_an.yaml, scaled to the country after the 2025 reform (34
provinces and centrally-run cities, no district level of government, ~3,300 communes):

* level 1 `000.00.00.Hxx`: the provincial People's Committee (UBND tỉnh), one per province;
* level 2 `000.00.NN.Hxx`: departments (sở, NN 01–20) and areas (NN 21–…) that group communes;
* level 3 `000.MM.NN.Hxx`: units of a department, and the communes (UBND xã/phường) of an area;
* level 4 `KKK.MM.NN.Hxx`: units of a commune (schools, health stations) and of department units.

Systems (who serves what, so the cover has to carve subtrees out of subtrees): each province's
DMS serves its root; some departments and some communes have their own DMS; one department
unit per province has a DMS of its own inside a department that has one (a carve-out two deep);
the national-axis gateway serves everything else (the ministries, G-codes, listed as external).
Every number is a parameter, so the default test suite can generate a 2,000-organ directory of
the same shape. Deterministic: the same `Shape` always gives the same directory, in the same order.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pika

from router.directory.model import Directory
from router.topology.build import Topology
from router.topology.names import LANE_HEADER
from router.topology.simulate import RoutingModel

#: Level-1 groups of the 34 provinces and cities of 2025 (the code each merged province kept;
#: illustrative where the registry has not published the new ones).
PROVINCES: tuple[tuple[str, str], ...] = (
    ("H01", "thành phố Hà Nội"), ("H29", "thành phố Hồ Chí Minh"), ("H31", "thành phố Hải Phòng"),
    ("H48", "thành phố Đà Nẵng"), ("H65", "thành phố Cần Thơ"), ("H46", "thành phố Huế"),
    ("H41", "tỉnh Nghệ An"), ("H42", "tỉnh Hà Tĩnh"), ("H38", "tỉnh Thanh Hóa"), ("H11", "tỉnh Cao Bằng"),
    ("H12", "tỉnh Lạng Sơn"), ("H14", "tỉnh Quảng Ninh"), ("H17", "tỉnh Lai Châu"), ("H18", "tỉnh Điện Biên"),
    ("H19", "tỉnh Sơn La"), ("H20", "tỉnh Tuyên Quang"), ("H22", "tỉnh Lào Cai"), ("H24", "tỉnh Thái Nguyên"),
    ("H25", "tỉnh Phú Thọ"), ("H27", "tỉnh Bắc Ninh"), ("H33", "tỉnh Hưng Yên"), ("H36", "tỉnh Ninh Bình"),
    ("H44", "tỉnh Quảng Trị"), ("H51", "tỉnh Quảng Ngãi"), ("H52", "tỉnh Gia Lai"), ("H56", "tỉnh Khánh Hòa"),
    ("H62", "tỉnh Đắk Lắk"), ("H66", "tỉnh Lâm Đồng"), ("H70", "tỉnh Đồng Nai"), ("H72", "tỉnh Tây Ninh"),
    ("H83", "tỉnh Vĩnh Long"), ("H86", "tỉnh Đồng Tháp"), ("H96", "tỉnh Cà Mau"), ("H89", "tỉnh An Giang"),
)
#: Central bodies, outside every province's tree: the gateway's (the national axis).
MINISTRIES: tuple[tuple[str, str], ...] = (
    ("G22", "Văn phòng Chính phủ"), ("G09", "Bộ Nội vụ"), ("G12", "Bộ Tài chính"), ("G01", "Bộ Quốc phòng"),
    ("G02", "Bộ Công an"), ("G03", "Bộ Ngoại giao"), ("G04", "Bộ Tư pháp"), ("G06", "Bộ Công Thương"),
    ("G07", "Bộ Nông nghiệp và Môi trường"), ("G08", "Bộ Xây dựng"), ("G10", "Bộ Khoa học và Công nghệ"),
    ("G11", "Bộ Giáo dục và Đào tạo"), ("G13", "Bộ Y tế"), ("G14", "Bộ Văn hóa, Thể thao và Du lịch"),
)
GATEWAY = "truc-quoc-gia"


@dataclass(frozen=True, slots=True)
class Shape:
    """Counts per province (defaults: 34 × 3,275 + ministries ≈ 111,500 organs, ~1,000 systems)."""

    provinces: int = 34
    departments: int = 20  # level 2, NN 01..departments
    areas: int = 10  # level 2 after the departments; each groups `communes` communes
    communes: int = 10  # level 3 per area
    commune_units: int = 19  # level 4 per commune
    department_units: int = 10  # level 3 per department
    unit_units: int = 5  # level 4 per department unit
    department_systems: int = 10  # departments with a DMS of their own (the first ones)
    commune_systems: int = 18  # communes with a DMS of their own (every n-th one)
    ministry_units: int = 20  # level 2 per ministry (external)

    def __post_init__(self) -> None:
        if not 1 <= self.provinces <= len(PROVINCES):
            raise ValueError(f"provinces must be 1..{len(PROVINCES)}")
        if self.departments + self.areas > 99 or max(self.communes, self.department_units) > 99:
            raise ValueError("a group of an organ code holds two digits")
        if self.department_systems > self.departments or self.commune_systems > self.areas * self.communes:
            raise ValueError("more systems than organs to serve")


NATION = Shape()
#: ~2,000 organs of the same shape, for the default test suite
SMALL = Shape(provinces=2, departments=10, areas=8, communes=8, commune_units=10, department_units=4,
              unit_units=4, department_systems=2, commune_systems=3, ministry_units=4)


def _system(sid: str, name: str, serves: list[str], *, gateway: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": sid, "name": name, "broker_user": f"lt-{sid}",
                           "delivery": {"adapter": "file", "options": {"dir": f"var/deliver/{sid}"}}}
    if gateway:
        out["gateway"] = True
    else:
        out["serves"] = serves
    return out


def nation_directory(shape: Shape = NATION) -> dict[str, Any]:
    """The directory as parsed YAML (`Directory.from_dict` input; `yaml.safe_dump` for a file)."""
    organs: list[dict[str, Any]] = []
    systems: list[dict[str, Any]] = []
    for group, pname in PROVINCES[: shape.provinces]:
        g = group.lower()

        def add(code: str, name: str) -> None:
            organs.append({"code": f"{code}.{group}", "name": f"{name} {pname}"})  # noqa: B023 (used at once)

        add("000.00.00", "Ủy ban nhân dân")
        systems.append(_system(f"tinh-{g}", f"Hệ thống quản lý văn bản {pname}", [f"000.00.00.{group}"]))
        for d in range(1, shape.departments + 1):
            add(f"000.00.{d:02d}", f"Sở số {d}")
            if d <= shape.department_systems:
                systems.append(_system(f"so-{g}-{d:02d}", f"Hệ thống quản lý văn bản Sở số {d} {pname}",
                                       [f"000.00.{d:02d}.{group}"]))
            for u in range(1, shape.department_units + 1):
                add(f"000.{u:02d}.{d:02d}", f"Đơn vị {u} thuộc Sở số {d}")
                for k in range(1, shape.unit_units + 1):
                    add(f"{k:03d}.{u:02d}.{d:02d}", f"Phòng {k}, Đơn vị {u} thuộc Sở số {d}")
        # a unit with its own DMS inside a department that has one: a carve-out two deep
        if shape.department_systems and shape.department_units:
            systems.append(_system(f"dv-{g}-01-01", f"Hệ thống quản lý văn bản Đơn vị 1, Sở số 1 {pname}",
                                   [f"000.01.01.{group}"]))
        every = max(1, (shape.areas * shape.communes) // max(1, shape.commune_systems))
        served = 0
        for a in range(shape.areas):
            area = shape.departments + 1 + a
            add(f"000.00.{area:02d}", f"Khu vực {a + 1}")
            for c in range(1, shape.communes + 1):
                add(f"000.{c:02d}.{area:02d}", f"Ủy ban nhân dân xã số {c}, khu vực {a + 1}")
                nth = a * shape.communes + c - 1
                if nth % every == 0 and served < shape.commune_systems:
                    served += 1
                    systems.append(_system(f"xa-{g}-{area:02d}-{c:02d}",
                                           f"Hệ thống quản lý văn bản xã số {c}, khu vực {a + 1} {pname}",
                                           [f"000.{c:02d}.{area:02d}.{group}"]))
                for k in range(1, shape.commune_units + 1):
                    add(f"{k:03d}.{c:02d}.{area:02d}", f"Đơn vị {k} thuộc xã số {c}, khu vực {a + 1}")
    for group, mname in MINISTRIES:
        organs.append({"code": f"000.00.00.{group}", "name": mname})
        organs += [{"code": f"000.00.{u:02d}.{group}", "name": f"Cục số {u}, {mname}"}
                   for u in range(1, shape.ministry_units + 1)]
    systems.append(_system(GATEWAY, "Trục liên thông văn bản quốc gia (cổng kết nối)", [], gateway=True))
    return {"organs": organs, "systems": systems}


# -- correctness: every organ reaches exactly one system queue ------------------------------------


@dataclass(frozen=True, slots=True)
class Misroute:
    code: str
    expected: str
    reached: frozenset[str]

    def __str__(self) -> str:
        return f"{self.code}: expected only {self.expected}, reached {sorted(self.reached) or 'nothing'}"


def expected_queue(directory: Directory, topology: Topology, code: str) -> str:
    """The one queue a normal-lane package for `code` must land in: its positional server's
    (`Directory.server_of`, the broker's view: no successor forwarding), else `P.unknown`."""
    server = directory.server_of(code)
    if server is None:
        return topology.names.unknown_queue
    return topology.names.system_queue(server.id, "normal")


def misroutes(directory: Directory, topology: Topology, codes: Iterable[str] | None = None) -> list[Misroute]:
    """Route every organ (or `codes`) through the in-memory model of the broker; the organs
    that reach anything but exactly their expected queue."""
    model = RoutingModel(topology)
    out: list[Misroute] = []
    for code in codes if codes is not None else (o.code for o in directory.organs):
        exchange, key = topology.route_for(code)
        reached = model.route(exchange, key, {LANE_HEADER: "normal"})
        want = expected_queue(directory, topology, code)
        if reached != {want}:
            out.append(Misroute(code, want, reached))
    return out


def queue_depths(channel: Any, topology: Topology) -> dict[str, int]:
    """Messages in each queue of the topology (passive declares: no management plugin needed)."""
    return {q.name: int(channel.queue_declare(q.name, passive=True).method.message_count) for q in topology.queues}


def broker_misroutes(channel: Any, directory: Directory, topology: Topology, codes: Sequence[str]) -> list[Misroute]:
    """The same question against a broker holding `topology` (declared, empty): one persistent,
    confirmed message per code, each fetched back from its expected queue; then every queue of
    the topology must be empty again, so no copy went anywhere else."""
    channel.confirm_delivery()
    for code in codes:
        exchange, key = topology.route_for(code)
        channel.basic_publish(exchange, key, code.encode(), pika.BasicProperties(
            delivery_mode=2, headers={LANE_HEADER: "normal"}), mandatory=False)
    want = {c: expected_queue(directory, topology, c) for c in codes}
    due: dict[str, int] = {}
    for q in want.values():
        due[q] = due.get(q, 0) + 1
    got: dict[str, set[str]] = {}

    def drain(queue: str, count: int | None) -> None:
        """Fetch `count` messages (a quorum queue's basic.get may answer empty for a moment
        after the confirm), or, with None, whatever the queue holds."""
        deadline = time.monotonic() + 30
        taken = 0
        while count is None or taken < count:
            method, _props, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                if count is None or time.monotonic() > deadline:
                    return
                time.sleep(0.05)
                continue
            taken += 1
            got.setdefault(body.decode(), set()).add(queue)

    for queue, count in sorted(due.items()):
        drain(queue, count)
    for queue, left in queue_depths(channel, topology).items():  # copies anywhere else
        if left:
            drain(queue, None)
    out: list[Misroute] = []
    for code in codes:
        reached = frozenset(got.get(code, set()))
        if reached != {want[code]}:
            out.append(Misroute(code, want[code], reached))
    return out
