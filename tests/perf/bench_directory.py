"""A nation-sized directory: load, memory, topology size, declare time, lookups, and correctness.

Run: .venv/bin/python -m tests.perf.bench_directory [--small] [--broker own|shared|none] [--sample N]

The directory is generated (tests/support/nation.py: 34 provinces of the 2025 map, ~110,000
organs, ~1,000 systems), written as YAML and read back with `load_directory`, the hub's own path.
Measured: YAML parse and validation times, the process's RSS after loading and building and its
peak (VmHWM), the topology's size (bindings of the non-overlapping cover), the in-memory routing
of every organ (each must reach exactly its system's queue), the time `apply_topology` takes on a
broker, a sample of organs routed by that broker (the same property), and `Directory.resolve`
per lookup. `--broker own` (default) starts a RabbitMQ node of the run's own on free loopback
ports (tests/support/cluster.py) and removes it after; `shared` declares on 127.0.0.1:5672
under a unique prefix and deletes it all after. The machine's load average is printed with the
figures: on a shared 2-core machine they move.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pika
import psutil
import yaml

from ops.logging import configure_logging
from router.directory.model import SAFE_YAML_LOADER, Directory, load_directory
from router.topology.build import Topology, TopologyOptions, build_topology
from router.topology.declare import apply_topology
from tests.support.cluster import available, own_nodes
from tests.support.nation import NATION, SMALL, broker_misroutes, misroutes, nation_directory
from tests.support.services import AMQP_URL, delete_broker_objects, unique_prefix


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def peak_mb() -> float:
    """VmHWM: the peak resident set of this process (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(what: str, rows: list[tuple[str, str]], fn: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - started
    rows.append((what, f"{seconds:.2f} s"))
    return value, seconds


@contextmanager
def broker(kind: str, prefix: str) -> Iterator[str]:
    """The AMQP URL of a broker to declare on; removes what it made."""
    if kind == "own":
        with tempfile.TemporaryDirectory() as tmp, own_nodes(Path(tmp), 1, label="lt-nation", join=False) as c:
            yield c.nodes[0].url
        return
    try:
        yield AMQP_URL
    finally:
        delete_broker_objects(prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help="a 2,000-organ directory of the same shape")
    parser.add_argument("--broker", choices=("own", "shared", "none"), default="own",
                        help="where to declare the topology (default: a node of the run's own)")
    parser.add_argument("--sample", type=int, default=200, help="organs routed through the broker")
    parser.add_argument("--lookups", type=int, default=100_000, help="Directory.resolve calls timed")
    args = parser.parse_args()
    configure_logging("console", "WARNING")
    rows: list[tuple[str, str]] = []
    data = nation_directory(SMALL if args.small else NATION)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nation.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        size = path.stat().st_size
        del data
        base = rss_mb()
        timed("YAML parse alone (part of the load)", rows, lambda: yaml.load(
            path.read_text(encoding="utf-8"), Loader=SAFE_YAML_LOADER))
        loaded, _ = timed("load_directory (parse + validate + precompute)", rows, lambda: load_directory(path))
    assert isinstance(loaded, Directory)
    directory = loaded
    rows.append(("RSS after load (process, incl. interpreter)", f"{rss_mb():.0f} MB (before: {base:.0f} MB)"))
    prefix = unique_prefix("nation")
    opts = TopologyOptions(prefix=prefix, quorum_initial_group_size=1)
    built, _ = timed("build_topology (cover included)", rows, lambda: build_topology(directory, opts))
    assert isinstance(built, Topology)
    topology = built
    rows.append(("RSS after build / peak (VmHWM)", f"{rss_mb():.0f} MB / {peak_mb():.0f} MB"))
    cover_bindings = sum(len(c.levels) for c in topology.covers)
    rows += [
        ("organs / systems / directory file", f"{len(directory):,} / {len(directory.systems):,} / "
                                               f"{size / 2**20:.1f} MiB YAML"),
        ("cover: patterns / bindings on level exchanges", f"{len(topology.covers):,} / {cover_bindings:,}"),
        ("topology: exchanges / queues / bindings", f"{len(topology.exchanges):,} / {len(topology.queues):,} / "
                                                    f"{len(topology.bindings):,}"),
    ]
    wrong, _ = timed("in-memory check: every organ routed (RoutingModel)", rows,
                     lambda: misroutes(directory, topology))
    assert isinstance(wrong, list)
    rows.append(("organs not reaching exactly their system's queue", f"{len(wrong)} of {len(directory):,}"))
    codes = [o.code for o in directory.organs]
    rng = random.Random(13)
    lookups = [rng.choice(codes) for _ in range(args.lookups)]
    started = time.perf_counter()
    for code in lookups:
        directory.resolve(code)
    per = (time.perf_counter() - started) / len(lookups)
    rows.append(("Directory.resolve per lookup", f"{per * 1e6:.1f} µs ({len(lookups):,} random organs)"))
    if args.broker != "none" and (args.broker == "shared" or available()):
        with broker(args.broker, prefix) as url:
            conn = pika.BlockingConnection(pika.URLParameters(url))
            try:
                ch = conn.channel()
                timed(f"apply_topology on a broker ({args.broker} node, RabbitMQ 3.10)", rows,
                      lambda: apply_topology(topology, ch))
                sample = rng.sample(codes, min(args.sample, len(codes)))
                bad, _ = timed(f"broker check: {len(sample)} organs published, fetched back", rows,
                               lambda: broker_misroutes(ch, directory, topology, sample))
                assert isinstance(bad, list)
                rows.append(("sampled organs not reaching exactly their system's queue",
                             f"{len(bad)} of {len(sample)}"))
            finally:
                conn.close()
        wrong = [*wrong, *bad]
    load1, load5, _ = os.getloadavg()
    print(f"nation directory benchmark ({'small' if args.small else 'nation'}; "
          f"load average {load1:.1f}/{load5:.1f} on {os.cpu_count()} cores)")
    print("| measure | value |")
    print("|---|---|")
    for what, value in rows:
        print(f"| {what} | {value} |")
    for w in wrong[:20]:
        print("MISROUTED", w)
    if wrong:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
