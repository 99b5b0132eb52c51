"""Reconciliation as a pure comparison of the sink's journal, the ledger and getSentEdocList: each
kind of difference from the one fact that makes it, and nothing when the three agree."""

from __future__ import annotations

from datetime import datetime

import pytest

from adapters.axis.journal import SentRecord
from adapters.axis.protocol import SentEdoc
from adapters.axis.reconcile import reconcile

pytestmark = pytest.mark.unit

OUT = "000.00.00.G09"


def record(n: int, doc_id: str | None, recipients: tuple[str, ...] = (OUT,)) -> SentRecord:
    return SentRecord(f"edoc-{n:032d}-truc-quoc-gia", f"{n:064d}", "edoc", f"000.00.00.H41,2025/03/14,{n}/UBND",
                      "000.00.00.H41", recipients, "14032025T090000+0000", doc_id, datetime(2025, 3, 14), None)


def item(doc_id: str, to: str = OUT, status: str = "done") -> SentEdoc:
    return SentEdoc(senderDocId=doc_id, receiverDocId=f"r-{doc_id}", fromCode="000.00.00.H41", toCode=to,
                    title="V/v thử nghiệm", notation="UBND", sentTime="14/03/2025 09:00:00", receivedTime="",
                    sendStatus=status, sendStatusDesc="", receiveStatus="", receiveStatusDesc="")


def test_three_sources_that_agree_give_no_difference() -> None:
    r = reconcile([record(1, "d1")], {(f"{1:064d}", OUT): "delivered"}, [item("d1")])
    assert r.clean and r.sent == 1 and r.listed == 1


def test_each_difference_from_the_fact_that_makes_it() -> None:
    journal = [record(1, "d1"), record(2, "d2"), record(3, "d3"), record(4, None)]
    ledger = {(f"{n:064d}", OUT): "delivered" for n in (1, 2, 4, 5, 6)} | {(f"{3:064d}", OUT): "retrying"}
    axis = [item("d2", status="fail"), item("d3"), item("stranger")]
    r = reconcile(journal, ledger, axis, from_axis=frozenset({f"{6:064d}"}))
    got = sorted((d.kind, d.doc_id, d.digest[-1:]) for d in r.differences)
    assert got == [
        ("missing_at_axis", "", "4"),  # delivered, but the axis never answered a DocId
        ("missing_at_axis", "", "5"),  # delivered to the gateway, no sendEdoc recorded
        ("missing_at_axis", "d1", "1"),  # the axis answered d1 but does not list it (lost)
        ("state_mismatch", "d2", "2"),  # the recipient's system failed to take it
        ("state_mismatch", "d3", "3"),  # the axis holds it, the ledger says retrying
        ("unknown_to_ledger", "stranger", ""),  # sent under the hub's systemId, unknown here
    ]  # digest 6 came from the axis: never sent back, not a difference
    assert not r.clean


def test_a_package_for_two_outside_recipients_is_checked_per_recipient() -> None:
    other = "000.00.00.G12"
    ledger = {(f"{1:064d}", OUT): "delivered", (f"{1:064d}", other): "delivered"}
    r = reconcile([record(1, "d1", (OUT, other))], ledger, [item("d1")])
    assert [(d.kind, d.recipient) for d in r.differences] == [("missing_at_axis", other)]
