"""`lienthong demo`: the hub on the sample directory, the sample packages end to end.

Runs intake and delivery in this process against the configured RabbitMQ. Safe on a shared
broker: each run has its own prefix (`lt-demo-<random>`), so its queues, exchanges and broker
users (`<prefix>-<system>`, created with rabbitmqctl, refused if one already exists) are its
own, and only those are removed at the end — never a user it did not create. The ledger and
the delivered files stay in a fresh folder `<workdir>/<prefix>/`, printed with the exact
`lienthong trace` command to look at them afterwards.
"""

from __future__ import annotations

import hashlib
import shlex
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import yaml
from pika.adapters.utils.connection_workflow import AMQPConnectorException
from rich.console import Console
from rich.table import Table

from adapters.amqp import Submitter
from adapters.folder import FolderSink
from ops.provision import create_user, revoke_user, system_grant
from router.hub import Hub
from router.ledger.events import TransportState
from router.ledger.render import render_trace_text
from router.settings import PACKAGE_DATA, Settings
from router.topology.declare import apply_topology
from schemas.codes import StatusCode
from schemas.models import EdocPackage, Organization, ResponseFor, StaffInfo, StatusHeader, StatusPackage
from schemas.parse import parse_package
from schemas.render import render_edoc, render_status

DEMO_PASSWORD = "lienthong-demo"  # noqa: S105 - a throw-away local demo account


@dataclass
class Sent:
    label: str
    system: str
    body: bytes
    result: dict[str, object] | None = None

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def _cross_system(samples: Path) -> tuple[bytes, str]:
    """Sample 1 re-addressed: a Thanh Chương commune writes to a provincial department, a Vinh
    ward (both on the province DMS) and Bộ Nội vụ (national axis): three recipients, two systems."""
    base = parse_package((samples / "edoc_01_province_to_department_congvan.xml").read_bytes())
    pkg = base.package
    assert isinstance(pkg, EdocPackage)
    sender = "000.31.25.H41"
    h = pkg.header
    code = h.code.model_copy(update={"code_number": "15", "code_notation": "UBND"})
    header = h.model_copy(update={
        "from_": Organization(organ_id=sender, organ_name="Ủy ban nhân dân xã Thanh Hưng",
                              organization_in_charge="Ủy ban nhân dân huyện Thanh Chương"),
        "to": (
            Organization(organ_id="000.00.13.H41", organ_name="Sở Thông tin và Truyền thông tỉnh Nghệ An"),
            Organization(organ_id="000.11.21.H41", organ_name="Ủy ban nhân dân phường Hưng Bình"),
            Organization(organ_id="000.00.00.G09", organ_name="Bộ Nội vụ"),
        ),
        "document_id": f"{sender},2025/03/20,15/UBND",
        "code": code,
        "promulgation_info": h.promulgation_info.model_copy(update={"promulgation_date": date(2025, 3, 20)}),
        "due_date": date(2025, 4, 10),
        "subject": "Báo cáo tình hình ứng dụng văn bản điện tử tại xã Thanh Hưng",
    })
    new = pkg.model_copy(update={"header": header, "signature_present": False})
    body = render_edoc(new, {a.content_id: a.read() for a in base.attachments})
    return body, header.document_id


def _to_dissolved(samples: Path) -> bytes:
    """To Sở Kế hoạch và Đầu tư, merged into Sở Tài chính in 2025: forwarded to the successor."""
    text = (samples / "edoc_01_province_to_department_congvan.xml").read_text(encoding="utf-8")
    text = text.replace(
        "<edXML:OrganId>000.00.13.H41</edXML:OrganId>", "<edXML:OrganId>000.00.05.H41</edXML:OrganId>", 1
    )
    text = text.replace("1234/UBND-KGVX", "1240/UBND-KGVX").replace(
        "<edXML:CodeNumber>1234<", "<edXML:CodeNumber>1240<")
    return text.encode("utf-8")


def _status(reporter: str, name: str, about: str, doc_id: str, code: StatusCode, minute: int) -> bytes:
    number_notation = doc_id.split(",", 2)[2]
    return render_status(StatusPackage(header=StatusHeader(
        from_=Organization(organ_id=reporter, organ_name=name),
        response_for=ResponseFor(organ_id=about, code=number_notation, promulgation_date=date(2025, 3, 20),
                                 document_id=doc_id),
        staff_info=StaffInfo(department="Văn thư", staff="Văn thư"),
        status_code=code, description=f"{code.vi}", timestamp=datetime(2025, 3, 21, 8, minute, 0),
    )))


@dataclass(frozen=True)
class DemoRun:
    """Everything one demo run owns: names on the broker, a folder on disk."""

    prefix: str
    root: Path

    @property
    def ledger_url(self) -> str:
        return f"sqlite:///{self.root / 'ledger.sqlite3'}"

    def trace_command(self, document_id: str) -> str:
        return f"lienthong trace {shlex.quote(document_id)} --ledger {shlex.quote(self.ledger_url)}"


def new_run(workdir: Path) -> DemoRun:
    prefix = f"lt-demo-{uuid.uuid4().hex[:8]}"
    root = workdir.resolve() / prefix
    root.mkdir(parents=True)  # fresh: a run never reuses (or deletes) a folder
    return DemoRun(prefix, root)


def write_directory(run: DemoRun, source: Path = PACKAGE_DATA / "nghe_an.yaml") -> Path:
    """The sample directory with this run's broker users (`<prefix>-<system>`)."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    for system in data["systems"]:
        system["broker_user"] = f"{run.prefix}-{system['id']}"
    path = run.root / "directory.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _create_users(users: dict[str, str], prefix: str, created: list[str]) -> None:
    """New users only (`add_user` fails on an existing one): never reset someone else's."""
    for sid, user in users.items():
        create_user(system_grant(user, prefix, sid), DEMO_PASSWORD)
        created.append(user)


def run_demo(samples: Path, workdir: Path, base: Settings, console: Console, keep: bool = False) -> int:
    if not samples.is_dir():
        console.print(f"[red]Không thấy thư mục mẫu / samples not found: {samples}[/red]")
        return 2
    run = new_run(workdir)
    settings = base.model_copy(update={
        "prefix": run.prefix, "directory": write_directory(run), "ledger_url": run.ledger_url,
        "deliver_root": run.root, "retry_delays_s": (2, 5, 10), "prefetch": 32, "workers": 3, "grace_s": 10,
    })
    hub = Hub.from_settings(settings)  # folder sinks under the run's folder, as the directory says
    created: list[str] = []
    try:
        return _demo(samples, run, settings, hub, console, created)
    finally:
        hub.close()
        for user in created:  # only the users this run created
            revoke_user(user)
        if not keep:
            _delete_topology(settings.amqp_url, hub)


def _demo(samples: Path, run: DemoRun, settings: Settings, hub: Hub, console: Console, created: list[str]) -> int:
    amqp_url = settings.amqp_url
    console.print(f"[bold]lienthong demo[/bold] {run.prefix} — danh bạ/directory: {len(hub.directory)} cơ quan/organs, "
                  f"{len(hub.directory.systems)} hệ thống/systems; RabbitMQ {amqp_url.rsplit('@', maxsplit=1)[-1]}")
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        report = apply_topology(hub.topology, conn.channel())
    finally:
        conn.close()
    console.print(f"topology: {report}")
    users = {sid: s.broker_user for sid, s in hub.directory.systems.items()}
    _create_users(users, settings.prefix, created)
    consumers = [hub.intake_consumer(), hub.delivery_consumer()]
    threads = [threading.Thread(target=c.run, daemon=True) for c in consumers]
    for t in threads:
        t.start()
    for c in consumers:
        c.ready.wait(20)

    host = amqp_url.split("@", 1)[1]

    def submit(system: str, body: bytes) -> dict[str, object] | None:
        url = f"amqp://{users[system]}:{DEMO_PASSWORD}@{host}"
        with Submitter(url, hub.topology.names.intake_exchange) as s:
            return s.submit(body, wait_s=30).result

    cross, cross_id = _cross_system(samples)
    forged = (samples / "edoc_01_province_to_department_congvan.xml").read_bytes().replace(b"1234", b"1299")
    def read(name: str) -> bytes:
        return (samples / name).read_bytes()

    sends = [
        Sent("Mẫu 1: UBND tỉnh → Sở TT&TT", "tinh-nghean", read("edoc_01_province_to_department_congvan.xml")),
        Sent("Mẫu 2: UBND huyện → UBND xã (khẩn)", "huyen-thanhchuong",
             read("edoc_02_district_to_commune_quyetdinh.xml")),
        Sent("Mẫu 3: Sở TT&TT phúc đáp UBND tỉnh", "tinh-nghean", read("edoc_03_reply_with_responsefor.xml")),
        Sent("Xã → Sở, phường (huyện khác), Bộ Nội vụ", "huyen-thanhchuong", cross),
        Sent("Gửi tới Sở KH&ĐT (đã sáp nhập 2025)", "tinh-nghean", _to_dissolved(samples)),
        Sent("Giả mạo: hệ thống huyện gửi thay UBND tỉnh", "huyen-thanhchuong", forged),
        Sent("Trạng thái mẫu 1: 03 đã tiếp nhận", "tinh-nghean", read("status_01_accepted_03.xml")),
        Sent("Trạng thái mẫu 2: 02 trả lại", "huyen-thanhchuong", read("status_02_rejected_02.xml")),
    ]
    for s in sends:
        s.result = submit(s.system, s.body)
    statuses = [
        ("tinh-nghean", "000.00.13.H41", "Sở Thông tin và Truyền thông tỉnh Nghệ An"),
        ("tinh-nghean", "000.11.21.H41", "Ủy ban nhân dân phường Hưng Bình"),
        ("truc-quoc-gia", "000.00.00.G09", "Bộ Nội vụ"),
    ]
    for minute, code in enumerate((StatusCode.ARRIVED, StatusCode.ACCEPTED, StatusCode.DONE)):
        for system, organ, name in statuses:
            submit(system, _status(organ, name, "000.31.25.H41", cross_id, code, minute))

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pending = [d for s in sends for d in hub.ledger.deliveries(s.digest)
                   if d.state in (TransportState.ACCEPTED, TransportState.ROUTED, TransportState.RETRYING)]
        if not pending:
            break
        time.sleep(0.2)

    table = Table(title="Gói tin đã gửi / packages submitted", show_lines=True)
    for col in ("Gói tin / package", "Hệ thống gửi / from system", "Kết quả / outcome", "Đi tới / routed to"):
        table.add_column(col)
    for s in sends:
        r: dict[str, Any] = dict(s.result or {})
        routed: dict[str, list[str]] = r.get("routed") or {}
        fwd: dict[str, str] = r.get("forwarded") or {}
        where = "\n".join(
            f"{sid}: " + ", ".join(f"{x} → {fwd[x]}" if x in fwd else x for x in rs) for sid, rs in routed.items()
        )
        outcome = str(r.get("outcome", "—")) + (f"\n{r['code']}" if r.get("code") else "")
        table.add_row(s.label, s.system, outcome, where or "—")
    console.print(table)

    inbox = Table(title="Hộp thư đến / delivered to each system's inbox")
    inbox.add_column("Hệ thống / system")
    inbox.add_column("edoc")
    inbox.add_column("status")
    for sid, sink in hub.sinks.items():
        files = sink.delivered() if isinstance(sink, FolderSink) else []
        inbox.add_row(sid, str(sum(f.name.startswith("edoc-") for f in files)),
                      str(sum(f.name.startswith("status-") for f in files)))
    console.print(inbox)
    console.print("\n[bold]trace[/bold] " + cross_id)
    console.print(render_trace_text(hub.ledger.trace(cross_id)), markup=False, highlight=False, soft_wrap=True)
    verdict = hub.ledger.verify_chain()
    console.print(verdict.text(), markup=False, highlight=False)

    for c in consumers:
        c.stop()
    for t in threads:
        t.join(15)
    folders = sorted({str(sink.directory) for sink in hub.sinks.values() if isinstance(sink, FolderSink)})
    plain = {"markup": False, "highlight": False, "soft_wrap": True}
    console.print(f"Sổ cái / ledger: {run.root / 'ledger.sqlite3'}", **plain)  # type: ignore[arg-type]
    console.print("Tệp nhận / delivered files: " + ", ".join(folders), **plain)  # type: ignore[arg-type]
    console.print("Xem tiếp / next: " + run.trace_command(cross_id), **plain)  # type: ignore[arg-type]
    failed = [s for s in sends if s.result is None]
    return 1 if failed else 0


def _delete_topology(amqp_url: str, hub: Hub) -> None:
    """This run's queues and exchanges (all named with its prefix), nothing else."""
    try:
        conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    except (pika.exceptions.AMQPConnectionError, AMQPConnectorException):
        return  # the broker is gone: there is nothing of ours to delete that we could reach
    try:
        ch = conn.channel()
        for q in hub.topology.queues:
            ch.queue_delete(q.name)
        for x in hub.topology.exchanges:
            ch.exchange_delete(x.name)
    finally:
        conn.close()
