"""The axis-compatible API on loopback for tests: a hub whose province DMS (tinh-nghean) pulls
through a real mailbox, whose district DMS (huyen-thanhchuong) uses real drop folders, the API on a real uvicorn server (port 0) with its own gateway broker
account, and clients that speak the protocol — signed from §7.6, or the SDK's captured bytes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml

from adapters.axis import protocol as p
from adapters.axis.api import create_app
from adapters.folder_layout import DropFolders
from adapters.mailbox import Mailbox, MailboxSink
from adapters.registry import SINKS, SinkPlace
from ops.provision import ensure_user, gateway_grant, revoke_user
from router.cli.api import Built, build
from router.settings import PACKAGE_DATA, Settings
from tests.support.axis_captures import SECRET, SYSTEM_ID, Capture
from tests.support.hub import PASSWORD, RunningHub, running_hub

DISTRICT_ID = "000.00.25.H41"  # huyen-thanhchuong's systemid in the API
DISTRICT_SECRET = "district-secret-4567"


def write_directory(prefix: str, path: Path) -> Path:
    """The shipped directory as tests.support.hub renames it; tinh-nghean pulls (mailbox)."""
    data = yaml.safe_load((PACKAGE_DATA / "nghe_an.yaml").read_text(encoding="utf-8"))
    for system in data["systems"]:
        system["broker_user"] = f"{prefix}-{system['id']}"
        if system["id"] == "tinh-nghean":
            system["delivery"] = {"adapter": "mailbox"}
        if system["id"] == "huyen-thanhchuong":
            system["validation"] = "strict"  # the API validates as intake would for this system
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def write_secrets(path: Path) -> Path:
    path.write_text(yaml.safe_dump({"accounts": [
        {"systemid": SYSTEM_ID, "system": "tinh-nghean", "secret": SECRET},
        {"systemid": DISTRICT_ID, "system": "huyen-thanhchuong", "secret": DISTRICT_SECRET},
    ]}), encoding="utf-8")
    path.chmod(0o600)
    return path


@dataclass
class AxisClient:
    """A DMS speaking the protocol: one long-lived signer (parameters pile up, frozen timestamp)
    unless `fresh` asks for a new SDK object per call, as 001–010 were recorded."""

    base: str
    system_id: str = SYSTEM_ID
    secret: str = SECRET
    fresh: bool = True

    def _signer(self) -> p.Signer:
        return p.Signer(self.system_id, self.secret)

    def call(self, operation: str, params: list[tuple[str, str]] | None = None, *, late: list[tuple[str, str]] | None = None,
             method: str = "POST", body: bytes = b"", query: dict[str, str] | None = None) -> httpx.Response:
        headers = self._signer().headers(params or [], "application/json", late or [])
        return httpx.request(method, f"{self.base}/{operation}", headers=headers, content=body, params=query,
                             timeout=30)

    def json(self, operation: str, params: list[tuple[str, str]] | None = None, **kw: Any) -> dict[str, Any]:
        response = self.call(operation, params, **kw)
        data: dict[str, Any] = response.json()
        assert {"status", "ErrorCode", "ErrorDesc"} <= set(data), data
        return data

    def send(self, package: bytes, sender: str, messagetype: str = "edoc") -> dict[str, Any]:
        headers, body = self._signer().send_edoc(package, sender=sender, messagetype=messagetype)  # type: ignore[arg-type]
        data: dict[str, Any] = httpx.post(f"{self.base}/sendEdoc", headers=headers, content=body, timeout=60).json()
        return data

    def received(self, kind: str = "edoc") -> list[dict[str, Any]]:
        data = self.json("getReceivedEdocList", [("servicetype", "eDoc"), ("messagetype", kind)])
        assert data["ErrorCode"] == "0", data
        return list(data["data"])

    def update(self, doc_id: str, status: str) -> dict[str, Any]:
        return self.json("updateStatus", [("docid", doc_id)], late=[("status", status)], body=b"{}")


def replay(port: int, capture: Capture, *, expect_continue_within_s: float = 1.0) -> tuple[int, bytes, float | None]:
    """Send the captured request byte for byte (path as recorded). With `Expect: 100-continue`,
    send the head, wait for the interim answer, then the body. Returns (status, body, seconds
    until 100 Continue or None)."""
    head, _, body = capture.raw.partition(b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        waited: float | None = None
        if b"Expect: 100-continue" in head:
            s.sendall(head + b"\r\n\r\n")
            started = time.monotonic()
            s.settimeout(expect_continue_within_s)
            interim = s.recv(4096)
            waited = time.monotonic() - started
            assert interim.startswith(b"HTTP/1.1 100"), interim
            s.settimeout(30)
            s.sendall(body)
        else:
            s.sendall(capture.raw)
        return (*read_response(s), waited)


def read_response(s: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length = next(int(v) for k, _, v in (line.partition(": ") for line in lines[1:]) if k.lower() == "content-length")
    while len(rest) < length:
        chunk = s.recv(65536)
        assert chunk
        rest += chunk
    return status, rest[:length]


@dataclass
class AxisRig:
    hub: RunningHub
    built: Built
    port: int
    mailbox: Mailbox
    settings: Settings
    district: DropFolders  # huyen-thanhchuong's drop folders (out/, in/, status/, failed/)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/XrdAdapter/adapter"

    def client(self, **kw: Any) -> AxisClient:
        return AxisClient(self.base, **kw)


@contextmanager
def serve(app: Any) -> Iterator[int]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, name="axis-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = int(server.servers[0].sockets[0].getsockname()[1])
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def axis_rig(amqp_url: str, prefix: str, tmp: Path, *, sinks: dict[str, Any] | None = None,
             **hub_settings: Any) -> Iterator[AxisRig]:
    """The province DMS pulls through the API (mailbox); the district DMS uses drop folders, read
    by the hub's folder watcher with its own gateway account — two adapters, two accounts.
    `sinks`: other sinks for other systems (the province always pulls through its mailbox)."""
    gateway, folders_gateway = f"{prefix}-gw-api", f"{prefix}-gw-folders"
    ledger_url = f"sqlite:///{tmp / 'ledger.sqlite3'}"
    mailbox = Mailbox.open(ledger_url)
    rest = amqp_url.split("@", 1)[1]
    settings = Settings(
        amqp_url=amqp_url, prefix=prefix, ledger_url=ledger_url, directory=write_directory(prefix, tmp / "dir.yaml"),
        api_amqp_url=f"amqp://{gateway}:{PASSWORD}@{rest}", api_secrets=write_secrets(tmp / "secrets.yaml"),
        gateway_users=(gateway, folders_gateway), api_reply_wait_s=20, retry_delays_s=(1, 1, 1),
        payload_dir=tmp / "payloads",  # the claim check's store, shared by the API and the hub
    )
    district = SinkPlace("huyen-thanhchuong", tmp / "deliver", ledger_url=ledger_url)
    folder_options = SINKS.options("folder", {"root": "folders/huyen-thanhchuong", "settle_s": 0, "poll_s": 0.2})
    for user in (gateway, folders_gateway):
        ensure_user(gateway_grant(user, prefix), PASSWORD)
    stop = threading.Event()
    try:
        hub_settings.setdefault("folders_amqp_url", f"amqp://{folders_gateway}:{PASSWORD}@{rest}")
        hub_settings.setdefault("payload_dir", settings.payload_dir)
        all_sinks = {"huyen-thanhchuong": SINKS.build("folder", folder_options, district), **(sinks or {}),
                     "tinh-nghean": MailboxSink(mailbox, "tinh-nghean")}
        with running_hub(amqp_url, prefix, tmp, ledger_url=ledger_url, gateway_users=(gateway, folders_gateway),
                         sinks=all_sinks, **hub_settings) as hub:
            poller = SINKS.source("folder", folder_options, district, hub.hub.outbox_for("huyen-thanhchuong"))
            assert poller is not None
            poller.folders.prepare()
            threading.Thread(target=poller.run, args=(stop,), name="district-folders", daemon=True).start()
            built = build(settings)
            try:
                with serve(create_app(built.parts)) as port:
                    yield AxisRig(hub, built, port, mailbox, settings, poller.folders)
            finally:
                stop.set()
                built.close()
    finally:
        for user in (gateway, folders_gateway):
            revoke_user(user)
        mailbox.close()
