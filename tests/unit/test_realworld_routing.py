"""The route stage on real-world identifiers and profiles (issue 9), with a real SQLite ledger:
connector ids and pre-2020 codes take the road of a code the directory does not know, a
system's `validation:` picks its profile, warnings travel to the ledger, the copy and the
counter, and a change carrying its original's DocumentId is never a duplicate of it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from sqlalchemy import select

from router.amqp.observe import Observer
from router.directory.model import Directory, DirectoryError
from router.ledger import schema as t
from router.ledger.engine import reading
from router.ledger.store import Ledger
from router.pipeline.envelope import WARNINGS, Envelope
from router.pipeline.intake import IntakeStage
from router.pipeline.outcome import Stage
from router.topology.build import route_for
from router.topology.names import Names
from schemas.codes import BussinessDocType
from schemas.profiles import Profile
from tests.support.hub import PACKAGE_DATA
from tests.support.packages import make_edoc
from tests.support.samples import REALWORLD

pytestmark = pytest.mark.unit

AT = datetime(2026, 1, 15, 2, tzinfo=UTC)
AXIS_2025 = "pvn-axis-2025-10-9e272474-0603-48a2-b525-9cd1af689612.edxml"


def _directory(**validation: str) -> Directory:
    data = yaml.safe_load((PACKAGE_DATA / "nghe_an.yaml").read_text(encoding="utf-8"))
    for system in data["systems"]:
        system["broker_user"] = f"rw-{system['id']}"
        if system["id"] in validation:
            system["validation"] = validation[system["id"]]
    return Directory.from_dict(data)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}") as lg:
        yield lg


def test_connector_ids_and_legacy_codes_take_the_road_of_unknown_codes() -> None:
    d = _directory()
    gateway = d.gateway
    for code in ("vxp.saas.02", "01.02.G22"):  # outside the tree: the national axis
        res = d.resolve(code, on=date(2026, 1, 15))
        assert (res.outcome, res.system) == ("external", gateway), res
        assert d.server_of(code) == gateway and d.serves(gateway.id, code)
        exchange, _ = route_for(res, Names("rw"))
        assert exchange == Names("rw").external_exchange
    legacy_local = d.resolve("01.13.H41", on=date(2026, 1, 15))  # inside the tree, not in the directory
    assert (legacy_local.outcome, legacy_local.system) == ("unknown_local", None)
    assert not d.serves("tinh-nghean", "vxp.saas.03")  # a local system cannot speak for a connector
    assert d.resolve("null").outcome == "invalid" and d.server_of("") is None


def test_a_system_picks_its_profile_in_the_directory() -> None:
    d = _directory(**{"huyen-thanhchuong": "strict"})
    assert d.systems["huyen-thanhchuong"].validation is Profile.STRICT
    assert d.systems["tinh-nghean"].validation is Profile.DEFAULT
    with pytest.raises(DirectoryError) as err:
        _directory(**{"tinh-nghean": "lax"})
    assert "systems[0] (tinh-nghean): validation 'lax' must be one of: default, strict" in str(err.value)


def _evidence(ledger: Ledger, digest: str) -> dict[str, Any]:
    with reading(ledger._engine) as conn:
        for row in conn.execute(select(t.evidence.c.payload).where(t.evidence.c.event_type == "PackageReceived")):
            payload = json.loads(row.payload)
            if payload["digest"] == digest:
                return dict(payload)
    raise AssertionError(f"no PackageReceived for {digest}")


def _warnings_counted(system: str, code: str) -> float:
    return REGISTRY.get_sample_value("lienthong_validation_warnings_total", {"system": system, "code": code}) or 0.0


def _to_the_province(body: bytes) -> bytes:
    """The axis package re-addressed to UBND tỉnh Nghệ An (To/OrganId only, same lines): as it
    stands it goes from connector vxp.saas.03 to itself, both outside the tree."""
    head, sep, rest = body.partition(b"<edXML:To>")
    return head + sep + rest.replace(b"vxp.saas.03", b"000.00.00.H41", 1)


def test_the_2025_axis_package_is_routed_with_its_warnings(ledger: Ledger) -> None:
    d = _directory()
    real = (REALWORLD / AXIS_2025).read_bytes()
    relay = IntakeStage(d, ledger, Names("rw")).process(real, "rw-truc-quoc-gia", AT)
    # as downloaded it is addressed outside the tree: the hub does not relay it back (issue 8)
    assert (relay.reply["outcome"], relay.reply["code"]) == ("rejected", "GATEWAY_RELAY"), relay.reply
    body = _to_the_province(real)
    before = _warnings_counted("truc-quoc-gia", "ORGAN_ID_CONNECTOR")
    decision = IntakeStage(d, ledger, Names("rw")).process(body, "rw-truc-quoc-gia", AT)
    assert decision.reply["outcome"] == "accepted", decision.reply
    assert "ORGAN_ID_CONNECTOR" in decision.reply["warnings"]
    [pub] = decision.publishes
    assert pub.exchange == Names("rw").level_exchange(1)
    env = Envelope.decode(pub.headers)
    assert isinstance(env, Envelope) and env.recipients == ("000.00.00.H41",)
    assert "ORGAN_ID_CONNECTOR /edXML/edXMLEnvelope/edXMLHeader/MessageHeader/From/OrganId:7" in env.warnings
    assert pub.headers[WARNINGS].startswith("SCHEMA_VIOLATION /edXML/edXMLEnvelope/edXMLHeader/TraceHeaderList")
    ledger.append(list(decision.before))
    stored = _evidence(ledger, decision.reply["digest"])["warnings"]
    assert [w[0] for w in stored] == [w.split(" ")[0] for w in env.warnings]
    assert all(len(w) == 4 and " / " in w[3] for w in stored)  # code, path, line, "vi / en"
    assert _warnings_counted("truc-quoc-gia", "ORGAN_ID_CONNECTOR") == before  # the stage counts nothing …
    assert decision.outcome is not None
    Observer(Stage.INTAKE).outcome(decision.outcome)
    assert _warnings_counted("truc-quoc-gia", "ORGAN_ID_CONNECTOR") == before + 1  # … the runtime: From


def test_a_strict_system_is_refused_what_a_default_one_routes(ledger: Ledger) -> None:
    d = _directory(**{"truc-quoc-gia": "strict"})
    body = (REALWORLD / AXIS_2025).read_bytes()
    decision = IntakeStage(d, ledger, Names("rw")).process(body, "rw-truc-quoc-gia", AT)
    assert decision.reply["outcome"] == "rejected" and decision.reply["code"] == "SCHEMA_VIOLATION", decision.reply


def test_a_change_carrying_its_originals_document_id_is_no_duplicate(ledger: Ledger) -> None:
    """The SDK's revocation carries the original's DocumentId as its own: refused while the hub has
    never carried that original (issue 8: a change only for a document the ledger knows), decided
    afresh — and accepted, not DUPLICATE_CONFLICT — once the original is in; its target is that
    DocumentId, and the original keeps holding it."""
    d = _directory()
    stage = IntakeStage(d, ledger, Names("rw"))
    revocation = (REALWORLD / "pvn-sdk-edoc_revocation.edxml").read_bytes()
    early = stage.process(revocation, "rw-truc-quoc-gia", AT)
    assert (early.reply["outcome"], early.reply["code"]) == ("rejected", "CHANGE_TARGET_UNKNOWN"), early.reply
    ledger.append(list(early.before) + list(early.after))
    original = make_edoc("000.00.00.G22", ["000.00.00.H41"], 7816, notation="VPCP-TTĐT", day=date(2015, 9, 30))
    second = stage.process(original, "rw-truc-quoc-gia", AT)
    assert second.reply["outcome"] == "accepted", second.reply  # not DUPLICATE_CONFLICT
    ledger.append(list(second.before) + list(second.after))
    first = stage.process(revocation, "rw-truc-quoc-gia", AT)  # the same bytes again: not a final refusal
    assert first.reply["outcome"] == "accepted", first.reply
    assert second.reply["document_id"] == first.reply["document_id"]
    ledger.append(list(first.before) + list(first.after))
    held = ledger.find_package("000.00.00.G22", first.reply["document_id"])
    assert held is not None and held.digest == second.reply["digest"]  # the original, not the change
    env = Envelope.decode(first.publishes[0].headers)
    assert isinstance(env, Envelope) and env.doc_type == int(BussinessDocType.REVOKE)
    assert env.target == first.reply["document_id"]
    assert env.recipients == ("000.00.00.H41",)  # H14 and G17 are the axis's to reach, not relayed
    again = make_edoc("000.00.00.G22", ["000.00.00.H41"], 7816, notation="VPCP-TTĐT", day=date(2015, 9, 30),
                      subject="other bytes, same DocumentId")
    third = stage.process(again, "rw-truc-quoc-gia", AT)
    assert third.reply["code"] == "DUPLICATE_CONFLICT"  # kind 0 still holds its DocumentId
