"""Two provinces' directories that reach each other over a link (router/topology/links.py).

Nghệ An's is the shipped `nghe_an.yaml` plus Hà Tĩnh's organs, served by the link system
`lien-tinh-hatinh` (delivery adapter `shovel`); Hà Tĩnh's is `ha_tinh.yaml` plus Nghệ An's
organs, served by `lien-tinh-nghean`. Broker users carry each hub's test prefix. Each hub's
link user is the login the *other* hub's shovel publishes into this hub's intake with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from router.directory.model import Directory
from router.settings import PACKAGE_DATA

NGHE_AN, HA_TINH = "H41", "H42"


@dataclass(frozen=True, slots=True)
class Province:
    prefix: str
    directory: Directory
    directory_file: Path
    #: the link system to the other province, and the environment variable of its remote URL
    link: str
    link_url_env: str

    @property
    def link_user(self) -> str:
        return self.directory.systems[self.link].broker_user


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PACKAGE_DATA / name).read_text(encoding="utf-8"))
    return data


def _province(own: str, other: str, other_tree: str, prefix: str, other_prefix: str, link: str, link_name: str,
              env_var: str, path: Path) -> Province:
    data, neighbour = _load(own), _load(other)
    data["organs"] += [o for o in neighbour["organs"] if str(o["code"]).endswith(other_tree)]
    for s in data["systems"]:
        s["broker_user"] = f"{prefix}-{s['id']}"
    data["systems"].append({
        "id": link, "name": link_name, "broker_user": f"{prefix}-{link}", "serves": [f"000.00.00.{other_tree}"],
        "delivery": {"adapter": "shovel", "options": {"remote_prefix": other_prefix, "remote_url_env": env_var}},
    })
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return Province(prefix, Directory.from_dict(data), path, link, env_var)


def two_provinces(prefix_na: str, prefix_ht: str, root: Path) -> tuple[Province, Province]:
    root.mkdir(parents=True, exist_ok=True)
    na = _province("nghe_an.yaml", "ha_tinh.yaml", HA_TINH, prefix_na, prefix_ht, "lien-tinh-hatinh",
                   "Trục liên thông tỉnh Hà Tĩnh (liên kết shovel)", "LT_LINK_HATINH_URL", root / "nghe_an.yaml")
    ht = _province("ha_tinh.yaml", "nghe_an.yaml", NGHE_AN, prefix_ht, prefix_na, "lien-tinh-nghean",
                   "Trục liên thông tỉnh Nghệ An (liên kết shovel)", "LT_LINK_NGHEAN_URL", root / "ha_tinh.yaml")
    return na, ht
