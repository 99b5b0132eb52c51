"""Issue 8, "Answers that leak or mislead", on the real broker and ledger: authorization comes
before de-duplication, and a rejection is remembered per submitting system.

* A district system re-sends, byte for byte, a package the province's DMS sent: it is told
  `SENDER_NOT_SERVED` (not `duplicate` — it learns nothing), nothing is re-routed, and the
  province's package stays accepted.
* Bytes first submitted by the wrong system, or without `user_id`, are not refused for ever: the
  rightful system sending them properly later is accepted and delivered.
* The same system re-sending bytes refused for a reason about the package itself gets its
  earlier answer again (`duplicate` of a rejection).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from router.ledger.events import Outcome
from tests.support.hub import running_hub
from tests.support.packages import make_edoc
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

PROVINCE, COMMUNE, DEPT = "000.00.00.H41", "000.31.25.H41", "000.00.13.H41"
RIGHTFUL, OTHER = "tinh-nghean", "huyen-thanhchuong"  # OTHER does not serve PROVINCE


def test_authorization_comes_before_deduplication_and_rejections_are_per_submitter(
    amqp_url: str, broker_prefix: str, tmp_path: Path
) -> None:
    with running_hub(amqp_url, broker_prefix, tmp_path) as hub:
        ledger = hub.hub.ledger
        sent = make_edoc(PROVINCE, [COMMUNE], 91, notation="UBND-VP")
        first = hub.submit(RIGHTFUL, sent).result
        assert first is not None and first["outcome"] == "accepted", first
        wait_for(lambda: len(hub.inbox(OTHER)) == 1, what="the province's package delivered")

        replayed = hub.submit(OTHER, sent).result  # another system re-sends it byte for byte
        assert replayed is not None and replayed["outcome"] == "rejected", replayed
        assert replayed["code"] == "SENDER_NOT_SERVED" and "previous_outcome" not in replayed
        row = ledger.get_package(hashlib.sha256(sent).hexdigest())
        assert row is not None and row.outcome is Outcome.ACCEPTED and row.submitted_by == RIGHTFUL
        assert row.document_type == "Công văn"  # DocumentType/TypeName, for the compliance figures
        assert row.duplicates_absorbed == 0  # it was not counted as a duplicate either

        own = hub.submit(RIGHTFUL, sent).result  # the rightful sender's own re-send is a duplicate
        assert own is not None and own["outcome"] == "duplicate", own

        # bytes first sent by the wrong system, then by the rightful one
        wrong_first = make_edoc(PROVINCE, [DEPT], 92, notation="UBND-VP")
        refused = hub.submit(OTHER, wrong_first).result
        assert refused is not None and refused["code"] == "SENDER_NOT_SERVED", refused
        accepted = hub.submit(RIGHTFUL, wrong_first).result
        assert accepted is not None and accepted["outcome"] == "accepted", accepted

        # bytes first sent without user_id (a DMS misconfigured), then properly
        anonymous = make_edoc(PROVINCE, [DEPT], 93, notation="UBND-VP")
        missing = hub.submit(RIGHTFUL, anonymous, user_id=None).result
        assert missing is not None and missing["code"] == "USER_ID_MISSING", missing
        fixed = hub.submit(RIGHTFUL, anonymous).result
        assert fixed is not None and fixed["outcome"] == "accepted", fixed

        wait_for(lambda: {p.read_bytes() for p in hub.inbox(RIGHTFUL)} >= {wrong_first, anonymous},
                 what="both delivered to the department")
        for body in (wrong_first, anonymous):
            r = ledger.get_package(hashlib.sha256(body).hexdigest())
            assert r is not None and r.outcome is Outcome.ACCEPTED and r.submitted_by == RIGHTFUL
        assert ledger.verify_chain().ok

        # a refusal about the package itself stays the answer for the same system
        unknown_only = make_edoc(PROVINCE, ["000.99.99.H41"], 94, notation="UBND-VP")
        no = hub.submit(RIGHTFUL, unknown_only).result
        assert no is not None and no["outcome"] == "rejected" and no["code"] == "UNKNOWN_RECIPIENT", no
        again = hub.submit(RIGHTFUL, unknown_only).result
        assert again is not None and again["outcome"] == "duplicate" and again["previous_outcome"] == "rejected"
