"""The mailbox shared by the hub (delivering) and the API (listing, confirming) through separate
engines on one SQLite file: concurrent writers wait their turn, none fails."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from adapters.mailbox import Confirmed, Mailbox, MailboxSink
from adapters.sink import Delivered, Handover
from schemas.codes import PackageKind

pytestmark = pytest.mark.integration


def _handover(i: int) -> Handover:
    body = f"<edXML>{i}</edXML>".encode()
    return Handover(body=body, digest=hashlib.sha256(body).hexdigest(), kind=PackageKind.EDOC, system_id="tinh-nghean",
                    recipients=("000.00.13.H41",), document_id=f"000.00.25.H41,2025/03/14,{i}/UBND", sender="000.00.25.H41")


def test_delivering_and_confirming_at_once_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    hub, api = Mailbox.open(url), Mailbox.open(url)  # two engines, as two processes have
    errors: list[BaseException] = []
    results: list[object] = []

    def deliver(start: int) -> None:
        sink = MailboxSink(hub, "tinh-nghean")
        for i in range(start, start + 40):
            results.append(sink.deliver(_handover(i)))

    def confirm() -> None:
        try:
            for _ in range(60):
                for letter in api.letters("tinh-nghean", "edoc"):
                    api.confirm("tinh-nghean", letter.doc_id, "done", lambda n: None)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(k * 40,)) for k in range(3)] + \
              [threading.Thread(target=confirm) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[0]
    assert len(results) == 120 and all(isinstance(r, Delivered) for r in results), \
        [r for r in results if not isinstance(r, Delivered)][:3]
    for letter in api.letters("tinh-nghean", "edoc"):
        assert isinstance(api.confirm("tinh-nghean", letter.doc_id, "done", lambda n: None), Confirmed)
    assert api.count("tinh-nghean", "edoc") == 0
    hub.close()
    api.close()
