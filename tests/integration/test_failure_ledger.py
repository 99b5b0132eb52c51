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
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from adapters.folder import FolderSink
from tests.support.fault_run import Figures, settle
from tests.support.faults import ScriptedSink
from tests.support.flood import Flood
from tests.support.hub import RunningHub, running_hub
from tests.support.packages import make_edoc
from tests.support.services import pg_schema, unique_prefix
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SENDER, SENDER_SYSTEM = "000.00.00.H41", "tinh-nghean"
RECIPIENTS = {"000.00.13.H41": "tinh-nghean", "000.31.25.H41": "huyen-thanhchuong"}
#: 1+2+4+8 = 15 s of tiers: a 10 s outage is waited out, not spent
TIERS = (1, 2, 4, 8)
BIG = int(os.environ.get("LIENTHONG_FAULT_PACKAGES", "1000"))


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


def failures(caplog: pytest.LogCaptureFixture, stage: str) -> int:
    """Failure decisions the executor logged for `stage` (proof that the fault hit)."""
    return sum(1 for r in caplog.records if r.name == "lienthong.executor" and stage in r.getMessage())


def check(fig: Figures, hub: RunningHub) -> None:
    assert fig.silent == 0, fig
    assert fig.duplicated == 0, fig
    assert fig.delivered + fig.parked_with_record == fig.confirmed, fig
    assert hub.hub.ledger.verify_chain().ok


def during_intake(hub: RunningHub, proxy: TcpProxy, sinks: dict[str, ScriptedSink], n: int,
                  outage_s: float) -> Figures:
    hub.start(intake=True, deliver=True)
    try:
        bodies = batch(f"PGIN{n}", n)
        started = time.monotonic()
        outage = proxy.outage_in_thread(outage_s, after=0.2)
        assert flood(hub, bodies) == n
        outage.join()
        fig = settle(hub, "postgresql-outage-during-intake", bodies, RECIPIENTS, SENDER_SYSTEM, sinks,
                     timeout=120 + n / 10, started=started)
        check(fig, hub)
        return fig
    finally:
        hub.stop()


def during_delivery(hub: RunningHub, proxy: TcpProxy, sinks: dict[str, ScriptedSink], n: int,
                    outage_s: float) -> Figures:
    try:
        hub.start(intake=True, deliver=False)
        bodies = batch(f"PGDL{n}", n)
        routed_before = hub.hub.ledger.counts().deliveries["routed"]
        assert flood(hub, bodies) == n
        deadline = time.monotonic() + 120 + n / 10
        while hub.hub.ledger.counts().deliveries["routed"] < routed_before + len(RECIPIENTS) * n:  # a backlog
            assert time.monotonic() < deadline, "intake did not route the batch"
            time.sleep(0.3)
        started = time.monotonic()
        hub.start(intake=False, deliver=True)
        proxy.outage_in_thread(outage_s, after=0.3).join()
        fig = settle(hub, "postgresql-outage-during-delivery", bodies, RECIPIENTS, SENDER_SYSTEM, sinks,
                     timeout=120 + n / 10, started=started)
        check(fig, hub)
        return fig
    finally:
        hub.stop()


@pytest.fixture(scope="module")
def proxy() -> Iterator[TcpProxy]:
    with TcpProxy("127.0.0.1", 5432) as p:
        yield p


@pytest.fixture(scope="module")
def pg_sinks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ScriptedSink]:
    return sinks(tmp_path_factory.mktemp("pg-sinks"))


@pytest.fixture(scope="module")
def pg_hub(amqp_url: str, pg_url: str, proxy: TcpProxy, pg_sinks: dict[str, ScriptedSink],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """One hub for the module (setting one up on the shared broker takes ~20 s): its ledger is
    PostgreSQL through the proxy; each test starts the consumers it needs and stops them."""
    tmp = tmp_path_factory.mktemp("pg-hub")
    with pg_schema(pg_url) as url, running_hub(
        amqp_url, unique_prefix("pgf"), tmp, ledger_url=through(proxy, url), retry_delays_s=TIERS, sinks=pg_sinks,
        start=False,
    ) as hub:
        yield hub


def test_postgresql_refusing_connections_during_intake(
    pg_hub: RunningHub, proxy: TcpProxy, pg_sinks: dict[str, ScriptedSink], caplog: pytest.LogCaptureFixture
) -> None:
    during_intake(pg_hub, proxy, pg_sinks, n=30, outage_s=5)
    assert failures(caplog, "intake") > 0, "the outage never touched the hub: nothing proven"


def test_postgresql_refusing_connections_during_delivery(
    pg_hub: RunningHub, proxy: TcpProxy, pg_sinks: dict[str, ScriptedSink], caplog: pytest.LogCaptureFixture
) -> None:
    during_delivery(pg_hub, proxy, pg_sinks, n=30, outage_s=5)
    assert failures(caplog, "deliver") > 0, "the outage never touched the hub: nothing proven"


@pytest.mark.slow
def test_postgresql_down_10s_during_intake_of_1000(
    pg_hub: RunningHub, proxy: TcpProxy, pg_sinks: dict[str, ScriptedSink]
) -> None:
    during_intake(pg_hub, proxy, pg_sinks, n=BIG, outage_s=10)


@pytest.mark.slow
def test_postgresql_down_10s_during_delivery_of_1000(
    pg_hub: RunningHub, proxy: TcpProxy, pg_sinks: dict[str, ScriptedSink]
) -> None:
    during_delivery(pg_hub, proxy, pg_sinks, n=BIG, outage_s=10)


@pytest.mark.slow
def test_postgresql_down_longer_than_every_tier_parks_with_a_record(
    pg_hub: RunningHub, proxy: TcpProxy, pg_sinks: dict[str, ScriptedSink]
) -> None:
    """An outage longer than the tiers (25 s > 15 s): packages are parked — with a record, once
    the ledger is back (the park waits in the last tier meanwhile) — and their sender is told."""
    fig = during_intake(pg_hub, proxy, pg_sinks, n=int(os.environ.get("LIENTHONG_FAULT_LONG_PACKAGES", "200")),
                        outage_s=25)
    assert fig.parked_with_record > 0, fig
