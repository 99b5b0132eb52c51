"""The ledger goes away under load; nothing confirmed is lost or parked silently (issue 7).

PostgreSQL "restarting": a loopback TCP proxy in front of the real server drops every
connection and refuses new ones for a while (tests/support/tcp_proxy.py), during intake and
during delivery. SQLite "locked": another connection holds the write lock. Each run counts
confirmed / delivered / parked-with-record / silent / written twice at the sink, and requires
0 silent and 0 twice. On the old runtime a failed message was requeued at once, the delivery
limit was spent in milliseconds and the broker parked it with no record: these fail there.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from adapters.folder import FolderSink
from router.ledger import engine as ledger_engine
from tests.support.fault_run import Figures, settle
from tests.support.faults import ScriptedSink
from tests.support.flood import Flood
from tests.support.hub import RunningHub, running_hub
from tests.support.packages import make_edoc
from tests.support.services import unique_prefix
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SENDER, SENDER_SYSTEM = "000.00.00.H41", "tinh-nghean"
RECIPIENTS = {"000.00.13.H41": "tinh-nghean", "000.31.25.H41": "huyen-thanhchuong"}
#: 1+2+4+8 = 15 s of tiers: a 10 s outage is waited out, not spent
TIERS = (1, 2, 4, 8)
BIG = int(os.environ.get("LIENTHONG_FAULT_PACKAGES", "1000"))


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    with TcpProxy("127.0.0.1", 5432) as p:
        yield p


def through(proxy: TcpProxy, url: str) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def sinks(tmp_path: Path) -> dict[str, ScriptedSink]:
    return {sid: ScriptedSink(FolderSink(tmp_path / "deliver" / sid))
            for sid in ("tinh-nghean", "huyen-thanhchuong", "truc-quoc-gia")}


def batch(tag: str, n: int) -> list[bytes]:
    return [make_edoc(SENDER, list(RECIPIENTS), i + 1, notation=tag) for i in range(n)]


def flood(hub: RunningHub, bodies: list[bytes]) -> int:
    report = Flood(hub.user_url(SENDER_SYSTEM), hub.hub.topology.names.intake_exchange, bodies, window=64).run()
    assert report.done
    return report.confirmed


def check(fig: Figures, hub: RunningHub) -> None:
    assert fig.silent == 0, fig
    assert fig.duplicated == 0, fig
    assert fig.delivered + fig.parked_with_record == fig.confirmed, fig
    assert hub.hub.ledger.verify_chain().ok


def during_intake(amqp_url: str, url: str, proxy: TcpProxy, tmp_path: Path, n: int, outage_s: float) -> Figures:
    the_sinks = sinks(tmp_path)
    with running_hub(amqp_url, unique_prefix("pgin"), tmp_path, ledger_url=url, retry_delays_s=TIERS,
                     sinks=the_sinks) as hub:
        bodies = batch("PGIN", n)
        started = time.monotonic()
        outage = proxy.outage_in_thread(outage_s, after=0.2)
        assert flood(hub, bodies) == n
        outage.join()
        fig = settle(hub, "postgresql-outage-during-intake", bodies, RECIPIENTS, SENDER_SYSTEM, the_sinks,
                     timeout=120 + n / 10, started=started)
        check(fig, hub)
        return fig


def during_delivery(amqp_url: str, url: str, proxy: TcpProxy, tmp_path: Path, n: int, outage_s: float) -> Figures:
    the_sinks = sinks(tmp_path)
    with running_hub(amqp_url, unique_prefix("pgdl"), tmp_path, ledger_url=url, retry_delays_s=TIERS,
                     sinks=the_sinks, start=False) as hub:
        hub.start(intake=True, deliver=False)
        bodies = batch("PGDL", n)
        assert flood(hub, bodies) == n
        deadline = time.monotonic() + 120 + n / 10
        while hub.hub.ledger.counts().deliveries["routed"] < len(RECIPIENTS) * n:  # a backlog waits
            assert time.monotonic() < deadline, "intake did not route the batch"
            time.sleep(0.3)
        started = time.monotonic()
        hub.start(intake=False, deliver=True)
        outage = proxy.outage_in_thread(outage_s, after=0.3)
        outage.join()
        fig = settle(hub, "postgresql-outage-during-delivery", bodies, RECIPIENTS, SENDER_SYSTEM, the_sinks,
                     timeout=120 + n / 10, started=started)
        check(fig, hub)
        return fig


def test_postgresql_refusing_connections_during_intake(
    amqp_url: str, pg_ledger_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    fig = during_intake(amqp_url, through(proxy, pg_ledger_url), proxy, tmp_path, n=40, outage_s=6)
    assert proxy.outages == 1


def test_postgresql_refusing_connections_during_delivery(
    amqp_url: str, pg_ledger_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    during_delivery(amqp_url, through(proxy, pg_ledger_url), proxy, tmp_path, n=40, outage_s=6)


@pytest.mark.slow
def test_postgresql_down_10s_during_intake_of_1000(
    amqp_url: str, pg_ledger_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    during_intake(amqp_url, through(proxy, pg_ledger_url), proxy, tmp_path, n=BIG, outage_s=10)


@pytest.mark.slow
def test_postgresql_down_10s_during_delivery_of_1000(
    amqp_url: str, pg_ledger_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    during_delivery(amqp_url, through(proxy, pg_ledger_url), proxy, tmp_path, n=BIG, outage_s=10)


def test_sqlite_locked_by_another_connection(
    amqp_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the write lock longer than the hub's busy timeout (shortened here
    so the lock need not last 30 s): writes fail with "database is locked" and are waited out."""
    monkeypatch.setattr(ledger_engine, "SQLITE_BUSY_TIMEOUT_MS", 300)
    db = tmp_path / "ledger.sqlite3"
    the_sinks = sinks(tmp_path)
    with running_hub(amqp_url, unique_prefix("lock"), tmp_path, ledger_url=f"sqlite:///{db}", retry_delays_s=TIERS,
                     sinks=the_sinks) as hub:
        locker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        locker.execute("BEGIN EXCLUSIVE")
        release = threading.Timer(5.0, lambda: locker.execute("COMMIT"))
        release.start()
        bodies = batch("LOCK", 30)
        started = time.monotonic()
        assert flood(hub, bodies) == 30
        release.join()
        locker.close()
        fig = settle(hub, "sqlite-locked", bodies, RECIPIENTS, SENDER_SYSTEM, the_sinks, timeout=90,
                     started=started)
        check(fig, hub)
