"""A real HTTP endpoint on loopback that receives pushed packages like a conforming DMS would.

It checks every request with the reference Standard Webhooks library (`standardwebhooks`, not
our own code), stores the body under its `webhook-id` once (a repeated id is answered 2xx and
not stored again: the de-duplication the standard asks of receivers), and can be scripted to
answer badly for a while: a status code, `hang` (answer after the sender's timeout) or
`drop` (close the connection without an answer).
"""

from __future__ import annotations

import base64
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


@dataclass
class Receiver:
    secret: str
    url: str = ""
    #: what the DMS has not taken yet, by webhook id
    inbox: dict[str, bytes] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    #: every request: (webhook id, answer given)
    log: list[tuple[str, str]] = field(default_factory=list)
    #: answers to give before behaving (status code as text, "hang", "drop"); `always` when set
    script: deque[str] = field(default_factory=deque)
    always: str | None = None
    #: answers scripted for one webhook id (taken before `script` and `always`)
    per_id: dict[str, deque[str]] = field(default_factory=dict)
    hang_s: float = 3.0
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_all(self) -> dict[str, bytes]:
        with self.lock:
            taken, self.inbox = self.inbox, {}
            return taken

    def requests(self) -> int:
        with self.lock:
            return len(self.log)

    def _next_answer(self, wid: str) -> str:
        with self.lock:
            if self.per_id.get(wid):
                return self.per_id[wid].popleft()
            if self.always is not None:
                return self.always
            return self.script.popleft() if self.script else "ok"


def _handler(rx: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            wid = self.headers.get("webhook-id", "")
            answer = rx._next_answer(wid)
            with rx.lock:
                rx.log.append((wid, answer))
            if answer == "drop":
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if answer == "hang":
                time.sleep(rx.hang_s)
                answer = "503"
            if answer != "ok":
                self._answer(int(answer))
                return
            try:
                Webhook(rx.secret).verify(body, dict(self.headers.items()), json_parse=False)
            except WebhookVerificationError:
                with rx.lock:
                    rx.bad_signatures += 1
                self._answer(401)
                return
            with rx.lock:
                if wid not in rx.seen:  # the receiver's duty: one package per webhook id
                    rx.seen.add(wid)
                    rx.inbox[wid] = body
            self._answer(204)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

    return Handler


@contextmanager
def receiver(secret: str | None = None) -> Iterator[Receiver]:
    rx = Receiver(secret or new_secret())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rx))
    server.daemon_threads = True
    rx.url = f"http://127.0.0.1:{server.server_address[1]}/lienthong/inbox"
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield rx
    finally:
        server.shutdown()
        server.server_close()


def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/inbox"
