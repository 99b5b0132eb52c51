"""Two real hub processes (`lienthong run`) on one drop folder, one of them killed with SIGKILL
again and again while files keep arriving: every file is submitted and delivered, none twice.
The directory file names the adapters the way a province would (drop folders for the province
and the district, a webhook for the national-axis gateway).

Figures are printed: files, kills, claims resumed by a sweep, copies absorbed by intake as exact
duplicates (a claim resumed after the broker's confirm, or an intake message redelivered because
the killed hub had not acked it yet), copies in B."""

from __future__ import annotations

import hashlib
import random
import time
from pathlib import Path

import pytest
import yaml

from adapters.folder_layout import DropFolders
from ops.provision import ensure_user, gateway_grant, revoke_user
from router.directory.model import Directory
from router.ledger.store import Ledger
from tests.support.packages import make_edoc
from tests.support.procs import PASSWORD, hub_environment
from tests.support.services import unique_prefix
from tests.support.waiting import wait_for
from tests.support.webhook_receiver import receiver

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

A, B, GATEWAY = "huyen-thanhchuong", "tinh-nghean", "truc-quoc-gia"
DISTRICT, PROVINCE = "000.00.25.H41", "000.00.00.H41"
FILES, KILLS = 120, 4


def test_two_hubs_on_one_folder_one_killed_repeatedly(amqp_url: str, tmp_path: Path) -> None:
    prefix = unique_prefix("fh")
    request_cleanup: list[str] = []
    try:
        _run(amqp_url, tmp_path, prefix, request_cleanup)
    finally:
        for user in request_cleanup:
            revoke_user(user)


def _run(amqp_url: str, tmp_path: Path, prefix: str, request_cleanup: list[str]) -> None:
    with receiver() as rx, hub_environment(amqp_url, prefix, tmp_path / "hub") as env:
        data = yaml.safe_load(env.directory_file.read_text(encoding="utf-8"))
        for system in data["systems"]:
            if system["id"] in (A, B):
                system["delivery"] = {"adapter": "folder", "options": {"root": f"folders/{system['id']}",
                                                                      "settle_s": 0, "poll_s": 0.2}}
            elif system["id"] == GATEWAY:
                system["delivery"] = {"adapter": "webhook", "options": {"url": rx.url,
                                                                       "secret_env": "LT_E2E_GW_SECRET"}}
        env.directory_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        Directory.from_dict(data)  # what the hubs will load
        gateway = f"{prefix}-gw-folders"  # the folder watcher's own account
        ensure_user(gateway_grant(gateway, prefix), PASSWORD)
        request_cleanup.append(gateway)
        extra = {"LT_E2E_GW_SECRET": rx.secret, "LIENTHONG_GATEWAY_USERS": gateway,
                 "LIENTHONG_FOLDERS_AMQP_URL": f"amqp://{gateway}:{PASSWORD}@{amqp_url.split('@', 1)[1]}"}
        a = DropFolders(A, env.deliver_root / "folders" / A)
        b = DropFolders(B, env.deliver_root / "folders" / B)
        steady = env.spawn("all", extra_env=extra)
        victim = env.spawn("all", extra_env=extra)
        steady.wait_ready(120)
        victim.wait_ready(120)
        wait_for(a.out.is_dir, 30, "the drop folders")
        bodies = [make_edoc(DISTRICT, [PROVINCE], 700 + i) for i in range(FILES)]
        rng = random.Random(10)
        per_round = FILES // (KILLS + 1)
        for round_ in range(KILLS + 1):
            for i in range(round_ * per_round, FILES if round_ == KILLS else (round_ + 1) * per_round):
                tmp = a.out / f".f{i:03d}.part"
                tmp.write_bytes(bodies[i])
                tmp.rename(a.out / f"cv-{i:03d}.edxml")
            if round_ < KILLS:
                time.sleep(rng.uniform(0.2, 1.5))
                victim.kill()
                victim = env.spawn("all", extra_env=extra)
                victim.wait_ready(120)
        wanted = {hashlib.sha256(x).hexdigest() for x in bodies}

        def copies() -> list[str]:
            return [hashlib.sha256(p.read_bytes()).hexdigest() for p in b.inbox.glob("*.edxml")]

        wait_for(lambda: wanted <= set(copies()), 240, "every file in B's in/")
        wait_for(lambda: not any(a.claimed.iterdir()) and not any(a.out.glob("*.edxml")), 60, "out/ empty")
        got = copies()
        assert sorted(got) == sorted(wanted)  # each once in B
        assert {p.stem for p in a.sent.glob("*.edxml")} == wanted  # each left out/ after its confirm
        ledger = Ledger.open(env.ledger_url)
        try:
            rows = [ledger.get_package(d) for d in wanted]
        finally:
            ledger.close()
        assert all(r is not None and r.outcome.value == "accepted" for r in rows)
        absorbed = sum(r.duplicates_absorbed for r in rows if r is not None)
        resumed = sum(p.log_events("folder.resumed") for p in env.processes)
        tally = env.tally()
        twice = [k for k, n in tally.writes.items() if n > 1]
        print(f"\nfiles {FILES}, kills {KILLS}, claims resumed {resumed}, re-submissions absorbed {absorbed}, "
              f"copies in B {len(got)}, written twice {len(twice)}")
        assert not twice
