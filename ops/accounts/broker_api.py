"""The RabbitMQ management HTTP API, as far as accounts need it: users, permissions, topic
permissions and connections. Errors are one line naming the call and the HTTP status, never a
password (the URL is shown without its credentials)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from ops.provision import Permissions

__all__ = ["BrokerApiError", "ManagementApi", "Permissions", "TopicPermission"]


class BrokerApiError(RuntimeError):
    """The management API refused or could not be reached (one line, no secret in it)."""


@dataclass(frozen=True, slots=True)
class TopicPermission:
    exchange: str
    write: str
    read: str


class ManagementApi:
    """`url` is `http://user:password@host:15672` (an administrator of the broker)."""

    def __init__(self, url: str, vhost: str = "/", timeout_s: float = 30.0) -> None:
        parts = urlsplit(url)
        if not parts.hostname:
            raise BrokerApiError(f"management URL {url!r}: expected http://user:password@host:15672")
        self.where = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port or 15672}", parts.path, "", ""))
        self.vhost = quote(vhost, safe="")
        self._client = httpx.Client(base_url=self.where.rstrip("/") + "/api", timeout=timeout_s,
                                    auth=(parts.username or "guest", parts.password or "guest"))

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, *, json: Any = None, ok404: bool = False,
              headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            response = self._client.request(method, path, json=json, headers=headers)
        except httpx.HTTPError as exc:
            raise BrokerApiError(f"RabbitMQ management API unreachable at {self.where} ({type(exc).__name__})") from exc
        if response.status_code == 404 and ok404:
            return response
        if response.status_code >= 400:
            call = f"{method} {path.partition('?')[0]}"
            raise BrokerApiError(f"RabbitMQ management API {call}: HTTP {response.status_code}")
        return response

    def user_exists(self, user: str) -> bool:
        return self._call("GET", f"/users/{quote(user, safe='')}", ok404=True).status_code == 200

    def put_user(self, user: str, password: str) -> None:
        self._call("PUT", f"/users/{quote(user, safe='')}", json={"password": password, "tags": ""})

    def delete_user(self, user: str) -> None:
        self._call("DELETE", f"/users/{quote(user, safe='')}", ok404=True)

    def set_permissions(self, user: str, p: Permissions) -> None:
        self._call("PUT", f"/permissions/{self.vhost}/{quote(user, safe='')}",
                   json={"configure": p.configure, "write": p.write, "read": p.read})

    def clear_permissions(self, user: str) -> None:
        self._call("DELETE", f"/permissions/{self.vhost}/{quote(user, safe='')}", ok404=True)
        self._call("DELETE", f"/topic-permissions/{self.vhost}/{quote(user, safe='')}", ok404=True)

    def set_topic_permission(self, user: str, t: TopicPermission) -> None:
        self._call("PUT", f"/topic-permissions/{self.vhost}/{quote(user, safe='')}",
                   json={"exchange": t.exchange, "write": t.write, "read": t.read})

    def permissions(self, user: str) -> Permissions | None:
        r = self._call("GET", f"/permissions/{self.vhost}/{quote(user, safe='')}", ok404=True)
        if r.status_code == 404:
            return None
        body = r.json()
        return Permissions(body["configure"], body["write"], body["read"])

    def topic_permissions(self, user: str) -> list[TopicPermission]:
        r = self._call("GET", f"/users/{quote(user, safe='')}/topic-permissions", ok404=True)
        if r.status_code == 404:
            return []
        return [TopicPermission(x["exchange"], x["write"], x["read"]) for x in r.json()]

    def close_connections(self, user: str, reason: str, settle_s: float = 6.0) -> int:
        """Close every open connection of `user` (permissions alone leave them open). The API
        lists connections from statistics emitted every 5 s (`collect_statistics_interval`), so
        a connection opened just before may not be listed yet: keep listing and closing for
        `settle_s` (one interval and a margin) before answering."""
        closed: set[str] = set()
        deadline = time.monotonic() + settle_s
        while True:
            r = self._call("GET", "/connections?columns=name,user")
            for name in [c["name"] for c in r.json() if c.get("user") == user and c["name"] not in closed]:
                self._call("DELETE", f"/connections/{quote(name, safe='')}", ok404=True,
                           headers={"X-Reason": reason})
                closed.add(name)
            if time.monotonic() >= deadline:
                return len(closed)
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
