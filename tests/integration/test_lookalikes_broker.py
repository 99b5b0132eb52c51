"""Issue 8, "Look-alike identifiers", on the real broker and ledger (the unit rules are in
tests/unit/test_lookalikes.py): what an attacker did against the old code, done again.

* The national-axis gateway sent as `000.00.00.H４１` (full-width digits) and with Arabic-Indic
  digits, and the package reached a provincial department: now refused `ORGAN_ID_INVALID`.
* `000.00.00.G０９` as a recipient was routed to the national axis: now refused, nothing queued
  for the gateway.
* Secret markers spelled with a Cyrillic М, a zero-width space or full-width letters passed the
  secret-document policy: now refused `SECRET_DOCUMENT`.

Every refusal is answered to the submitter, recorded in the ledger, and nothing is delivered.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from router.ledger.events import Outcome
from schemas.models import StatusPackage
from schemas.parse import parse_package
from tests.support.hub import RunningHub, running_hub
from tests.support.packages import make_edoc
from tests.support.samples import replace_once
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

PROVINCE, DEPT, MINISTRY = "000.00.00.H41", "000.00.13.H41", "000.00.00.G09"
GATEWAY, PROVINCE_DMS = "truc-quoc-gia", "tinh-nghean"
SPHERE = "<edXML:SphereOfPromulgation>"


def refused(hub: RunningHub, system: str, body: bytes, code: str) -> bytes:
    answer = hub.submit(system, body).result
    assert answer is not None and answer["outcome"] == "rejected", answer
    assert answer["code"] == code, answer
    row = hub.hub.ledger.get_package(hashlib.sha256(body).hexdigest())
    assert row is not None and row.outcome is Outcome.REJECTED, row
    return body


def with_sphere(body: bytes, marker: str) -> bytes:
    text = body.decode("utf-8")
    start = text.index(SPHERE) + len(SPHERE)
    end = text.index("<", start)
    return replace_once(text, text[start - len(SPHERE):end], f"{SPHERE}{marker}").encode("utf-8")


def test_look_alike_organ_codes_and_disguised_secret_markers_are_refused_on_the_broker(
    amqp_url: str, broker_prefix: str, tmp_path: Path
) -> None:
    with running_hub(amqp_url, broker_prefix, tmp_path) as hub:
        bad = [refused(hub, GATEWAY, make_edoc(sender, [DEPT], number), "ORGAN_ID_INVALID")
               for number, sender in enumerate(("000.00.00.H４１", "000.00.00.H٤١"), start=1)]
        bad.append(refused(hub, PROVINCE_DMS, make_edoc(PROVINCE, ["000.00.00.G０９"], 3), "ORGAN_ID_INVALID"))
        bad += [refused(hub, PROVINCE_DMS, with_sphere(make_edoc(PROVINCE, [DEPT], number), marker),
                        "SECRET_DOCUMENT")
                for number, marker in enumerate(("\u041cẬT", "M\u200bẬT", "ＭẬＴ"), start=4)]

        # the same routes with honest identifiers work, so the refusals above are about the look-alikes
        honest = make_edoc(PROVINCE, [DEPT, MINISTRY], 9)
        answer = hub.submit(PROVINCE_DMS, honest).result
        assert answer is not None and answer["outcome"] == "accepted", answer
        def received(system: str) -> set[bytes]:
            return {p.read_bytes() for p in hub.inbox(system)}

        wait_for(lambda: honest in received(PROVINCE_DMS) and honest in received(GATEWAY),
                 what="the honest package at the department and the national-axis gateway")
        time.sleep(0.5)  # nothing of the refused ones trails behind
        for system in hub.hub.directory.systems:
            assert not received(system) & set(bad), f"a refused package reached {system}"
        # the gateway holds the honest package and the hub's two refusals of what it sent; nothing
        # was sent towards the look-alike ministry code
        told = [parse_package(b).package for b in received(GATEWAY) - {honest}]
        assert len(told) == 2 and all(isinstance(t, StatusPackage) for t in told), told
        assert {t.header.status_code.value for t in told if isinstance(t, StatusPackage)} == {"02"}
        assert {t.sender for t in told} == {hub.hub.settings.hub_organ}
        assert hub.hub.ledger.verify_chain().ok
