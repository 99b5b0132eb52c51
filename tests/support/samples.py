"""Access to the shared sample packages and small text transformations of them."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "domain" / "samples"

EDOC_1 = "edoc_01_province_to_department_congvan.xml"
EDOC_2 = "edoc_02_district_to_commune_quyetdinh.xml"
EDOC_3 = "edoc_03_reply_with_responsefor.xml"
STATUS_1 = "status_01_accepted_03.xml"
STATUS_2 = "status_02_rejected_02.xml"
ALL = (EDOC_1, EDOC_2, EDOC_3, STATUS_1, STATUS_2)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample_text(name: str) -> str:
    return sample(name).decode("utf-8")


def replace_once(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} not in sample"
    return text.replace(old, new, 1)


#: Packages real software produced (the national axis, a gateway, the vendor SDK), byte for
#: byte, with `manifest.json` saying which a hub must accept, refuse (with which codes) or either.
REALWORLD = SAMPLES.parent.parent / "realworld"


def realworld_manifest() -> list[dict[str, object]]:
    import json

    entries = json.loads((REALWORLD / "manifest.json").read_text(encoding="utf-8"))
    assert isinstance(entries, list) and entries, "realworld/manifest.json is empty"
    return entries
