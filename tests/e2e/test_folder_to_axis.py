"""The issue's first acceptance path with the real parts: system A (the district) drops a package
in its `out/` folder → the hub routes it → system B (the province DMS, a client speaking the
axis protocol with HMAC headers) lists it, downloads it, confirms with updateStatus(done) and
sends status 03 with sendEdoc(messagetype=status) → A finds the status in its `status/in/`
folder; `trace` shows every step."""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.folder_layout import DropFolders
from adapters.folder_poller import FolderPoller
from adapters.registry import SINKS, SinkPlace
from schemas.codes import StatusCode
from tests.support.axis_api import AxisRig, axis_rig
from tests.support.hub import PASSWORD
from tests.support.packages import document_id, make_edoc, make_status
from tests.support.services import delete_broker_objects, unique_prefix
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

A, DISTRICT, PROVINCE = "huyen-thanhchuong", "000.00.25.H41", "000.00.00.H41"


@pytest.fixture(scope="module")
def rig(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AxisRig, DropFolders]]:
    prefix = unique_prefix("fax")
    tmp = Path(tmp_path_factory.mktemp("folder-axis"))
    options = SINKS.options("folder", {"root": "folders/huyen", "settle_s": 0, "poll_s": 0.1})
    place = SinkPlace(A, tmp)
    # the folder watcher uses the same kind of gateway account as the API (here the API's own)
    watcher_url = f"amqp://{prefix}-gw-api:{PASSWORD}@{amqp_url.split('@', 1)[1]}"
    try:
        with axis_rig(amqp_url, prefix, tmp, sinks={A: SINKS.build("folder", options, place)},
                      folders_amqp_url=watcher_url) as r:
            poller = SINKS.source("folder", options, place, r.hub.hub.outbox_for(A))
            assert isinstance(poller, FolderPoller)
            poller.folders.prepare()
            stop = threading.Event()
            thread = threading.Thread(target=poller.run, args=(stop,), daemon=True)
            thread.start()
            yield r, poller.folders
            stop.set()
            thread.join(10)
    finally:
        delete_broker_objects(prefix)


def test_dropped_pulled_confirmed_and_answered_into_the_status_folder(rig: tuple[AxisRig, DropFolders]) -> None:
    axis, folders = rig
    package = make_edoc(DISTRICT, [PROVINCE], 801)
    tmp = folders.out / ".cv-801.edxml.part"
    tmp.write_bytes(package)
    os.rename(tmp, folders.out / "cv-801.edxml")
    client = axis.client(fresh=True)
    wait_for(lambda: any(i["from"] == DISTRICT for i in client.received()), 60, "the letter in B's list")
    (item,) = [i for i in client.received() if i["from"] == DISTRICT]
    fetched = client.json("getEdoc", [("docId", item["docId"])], body=b"{}")
    assert base64.b64decode(str(fetched["data"])) == package  # byte for byte, from a file A dropped
    assert client.update(item["docId"], "done")["ErrorCode"] == "0"
    status = make_status(PROVINCE, DISTRICT, 801, StatusCode.ACCEPTED)
    answer = client.send(status, PROVINCE, "status")
    assert answer["ErrorCode"] == "0", answer
    wait_for(lambda: any(p.read_bytes() == status for p in folders.status_in.glob("*.edxml")), 60,
             "the status 03 in A's status/in/")
    assert not any(folders.out.glob("*.edxml")) and not any(folders.claimed.iterdir())
    trace = axis.hub.hub.ledger.trace(document_id(DISTRICT, 801))
    (organ,) = [o for o in trace.organs if o.organ == PROVINCE]
    assert [d.delivery.state.value for d in organ.deliveries] == ["delivered"]
    assert [s.status_code for s in organ.statuses] == ["03"]
    assert {p.submitted_by for p in trace.packages} >= {A}  # the watcher submitted as A, the API as B
