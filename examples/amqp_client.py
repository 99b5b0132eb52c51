"""A document-management system speaking the hub's direct AMQP contract (README, "Direct AMQP").

Only pika and the standard library: copy it into a DMS as a starting point.

    python examples/amqp_client.py submit FILE --url amqp://lt-huyen-thanhchuong:PW@hub:5672/%2F
    python examples/amqp_client.py receive --url … --system huyen-thanhchuong --out DIR [--count N]

`submit` publishes one package (edoc or status) to `<prefix>.intake` — persistent, `mandatory`,
publisher confirms, `user_id` = the login, `message_id` = the package's SHA-256 — and prints the
hub's intake result (JSON on direct reply-to). Exit 0 accepted or duplicate, 1 refused or
unroutable, 3 no answer in time.

`receive` consumes `<prefix>.sys.<system>.urgent` and `.normal` with manual acks: each package
is written to DIR as `<kind>-<digest[:32]>.edxml` (temp name, fsync, rename) beside a `.json`
of the hub's `lt-*` headers, and only then acked. A file already there is acked without being
written again (the hub is at-least-once: de-duplicate on the name). With `--refuse`, every
package is refused for good (`basic.reject`, requeue false): the hub parks it and tells its
sender — what a DMS does with a package it will never take.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pika
from pika.exceptions import UnroutableError

REPLY_TO = "amq.rabbitmq.reply-to"


def submit(url: str, prefix: str, path: Path, wait_s: float) -> int:
    body = path.read_bytes()
    params = pika.URLParameters(url)
    conn = pika.BlockingConnection(params)
    ch = conn.channel()
    ch.confirm_delivery()  # 1. publisher confirms: basic_publish returns only once the broker has it
    replies: dict[str, Any] = {}
    ch.basic_consume(REPLY_TO, lambda c, m, p, b: replies.update({p.correlation_id: json.loads(b)}), auto_ack=True)
    correlation = uuid.uuid4().hex
    props = pika.BasicProperties(
        delivery_mode=2,  # 2. persistent
        content_type="application/xml",
        user_id=params.credentials.username,  # 3. required: the hub refuses a package without it
        message_id=hashlib.sha256(body).hexdigest(),
        correlation_id=correlation,
        reply_to=REPLY_TO,  # 4. optional: the intake result comes back here
        timestamp=int(time.time()),
    )
    try:
        ch.basic_publish(f"{prefix}.intake", "", body, props, mandatory=True)  # 5. mandatory
    except UnroutableError:
        print("unroutable: the intake exchange has no queue", file=sys.stderr)
        return 1
    deadline = time.monotonic() + wait_s
    while correlation not in replies and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.2)
    conn.close()
    result = replies.get(correlation)
    if result is None:
        print("confirmed by the broker; no intake result in time", file=sys.stderr)
        return 3
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result.get("outcome") in ("accepted", "duplicate") else 1


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _store(out: Path, body: bytes, headers: dict[str, Any]) -> Path:
    kind = _text(headers.get("lt-kind", "edoc"))
    digest = _text(headers.get("lt-digest", "")) or hashlib.sha256(body).hexdigest()
    target = out / f"{kind}-{digest[:32]}.edxml"
    if target.exists():
        return target  # a re-delivery: already stored
    meta = {k: _text(v) for k, v in headers.items() if k.startswith("lt-")}
    for path, data in ((target.with_suffix(".json"), json.dumps(meta, ensure_ascii=False).encode()), (target, body)):
        fd, tmp = tempfile.mkstemp(dir=out, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    dfd = os.open(out, os.O_RDONLY)
    os.fsync(dfd)
    os.close(dfd)
    return target


def receive(url: str, prefix: str, system: str, out: Path, count: int, idle_s: float, refuse: bool) -> int:
    out.mkdir(parents=True, exist_ok=True)
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.basic_qos(prefetch_count=10)
    taken = 0
    last = time.monotonic()
    while count <= 0 or taken < count:
        got = None
        for lane in ("urgent", "normal"):  # urgent packages first
            method, props, body = ch.basic_get(f"{prefix}.sys.{system}.{lane}", auto_ack=False)
            if method is not None:
                got = (method, props, body)
                break
        if got is None:
            if time.monotonic() - last > idle_s:
                break
            conn.process_data_events(time_limit=0.2)
            continue
        method, props, body = got
        last = time.monotonic()
        if refuse:
            ch.basic_reject(method.delivery_tag, requeue=False)  # refused for good: parked, sender told
        else:
            stored = _store(out, body, dict(props.headers or {}))
            ch.basic_ack(method.delivery_tag)  # only after the package is safely stored
            print(stored.name)
        taken += 1
    conn.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Direct AMQP client of the lienthong hub (example).")
    ap.add_argument("--prefix", default="lienthong", help="the hub's broker name prefix (LIENTHONG_PREFIX)")
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("submit", help="submit one package and print the intake result")
    s.add_argument("file", type=Path)
    s.add_argument("--url", required=True, help="amqp://<broker user>:<password>@host:5672/%%2F")
    s.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the intake result")
    r = sub.add_parser("receive", help="take packages and statuses from the system's queues")
    r.add_argument("--url", required=True)
    r.add_argument("--system", required=True, help="the system id of the directory")
    r.add_argument("--out", type=Path, required=True, help="folder to store what arrives")
    r.add_argument("--count", type=int, default=0, help="stop after N messages (0: until idle)")
    r.add_argument("--idle", type=float, default=5.0, help="stop after this many seconds without a message")
    r.add_argument("--refuse", action="store_true", help="refuse every package for good (a demonstration)")
    a = ap.parse_args(argv)
    if a.command == "submit":
        return submit(a.url, a.prefix, a.file, a.wait)
    return receive(a.url, a.prefix, a.system, a.out, a.count, a.idle, a.refuse)


if __name__ == "__main__":
    raise SystemExit(main())
