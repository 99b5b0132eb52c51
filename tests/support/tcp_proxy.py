"""A TCP proxy on loopback that a test can tell to fail like a restarting database.

`outage(seconds)` drops every open connection and refuses new ones (nothing listens on the
port) for that long, then listens again — what PostgreSQL does while it restarts. The bytes
in between are passed through untouched, so the client talks to the real server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._closed = False
        self.port = self._listen(0)
        self.outages = 0

    # -- control --------------------------------------------------------------------------------
    def outage(self, seconds: float) -> None:
        """Drop every connection now and refuse new ones for `seconds` (blocks that long)."""
        self.begin_outage()
        time.sleep(seconds)
        self.end_outage()

    def outage_in_thread(self, seconds: float, after: float = 0.0) -> threading.Thread:
        def run() -> None:
            time.sleep(after)
            self.outage(seconds)

        t = threading.Thread(target=run, name="proxy-outage", daemon=True)
        t.start()
        return t

    def begin_outage(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, set()
            self.outages += 1
        if listener is not None:
            listener.close()
        for c in conns:
            _close(c)

    def end_outage(self) -> None:
        if not self._closed:
            self._listen(self.port)

    def close(self) -> None:
        self._closed = True
        self.begin_outage()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------
    def _listen(self, port: int) -> int:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        with self._lock:
            self._listener = s
        threading.Thread(target=self._accept, args=(s,), name="proxy-accept", daemon=True).start()
        return int(s.getsockname()[1])

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: an outage or the end
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # the outage began meanwhile
                    _close(client)
                    _close(server)
                    continue
                self._conns |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), name="proxy-pipe", daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(src)
            _close(dst)
            with self._lock:
                self._conns.discard(src)
                self._conns.discard(dst)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()
