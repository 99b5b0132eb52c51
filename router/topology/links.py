"""Links between provinces: the dynamic shovels that carry each link system's outbound queue
(`P.link.S`) to the other hub's intake exchange.

A *link system* is a directory entry for another province's hub: it `serves` that province's
tree (000.00.00.H42 for Hà Tĩnh, seen from Nghệ An) and has `delivery: {adapter: shovel,
options: {remote_prefix, remote_url_env}}`. The hub routes a package for a Hà Tĩnh organ to the
link like to any system, its delivery worker hands the package to `P.link.S` on the hub's own
broker (adapters/amqp.py, LinkSink), and the shovel defined here moves it to the other broker:

* `ack-mode: on-confirm`: a message leaves `P.link.S` only after the other broker confirmed
  it, so a link down for hours loses nothing; a message in flight when the link drops is sent
  again (the other hub absorbs the second copy by its digest);
* `dest-publish-properties.user_id` = the login the other hub gave this one, which its
  directory knows as *its* link system serving this province: the other hub authorizes `From`
  against it exactly as for a DMS (RabbitMQ checks `user_id` against the login);
* `reconnect-delay`: seconds between attempts while the other broker is unreachable.

Statuses come back the same way: the other hub routes a status for a Nghệ An organ to its link
system, whose shovel publishes into this hub's intake. The shovel runs inside RabbitMQ (plugin
`rabbitmq_shovel`), so it is defined with `rabbitmqctl set_parameter shovel NAME JSON` on this
hub's broker (a cluster replicates it and restarts it on another node when its node dies).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from router.directory.model import Directory
from router.topology.build import LINK_ADAPTER, Topology
from router.topology.names import Names

RECONNECT_DELAY_S = 5


class LinkError(ValueError):
    """A link cannot be defined (its remote URL is not set, or is not an AMQP URL)."""


@dataclass(frozen=True, slots=True)
class Link:
    system_id: str
    #: the outbound queue on this hub's broker
    queue: str
    #: the other hub's intake exchange
    remote_exchange: str
    #: environment variable holding the other broker's URL, with the login it gave this hub
    remote_url_env: str

    @property
    def shovel_name(self) -> str:
        return self.queue


def links_of(directory: Directory, topology: Topology) -> tuple[Link, ...]:
    out = []
    for sid in topology.systems:
        delivery = directory.systems[sid].delivery
        if delivery.adapter != LINK_ADAPTER:
            continue
        opts: Any = delivery.options
        out.append(Link(sid, topology.names.link_queue(sid), Names(opts.remote_prefix).intake_exchange,
                        opts.remote_url_env))
    return tuple(out)


def shovel_value(link: Link, remote_url: str, reconnect_delay_s: int = RECONNECT_DELAY_S) -> dict[str, Any]:
    """The shovel's definition (the JSON of `rabbitmqctl set_parameter shovel`)."""
    parsed = urlparse(remote_url)
    if parsed.scheme not in ("amqp", "amqps") or not parsed.username:
        raise LinkError(f"link {link.system_id}: {link.remote_url_env} must be an amqp:// or amqps:// URL with "
                        "the login the other hub gave this one")
    return {
        "src-protocol": "amqp091",
        "src-uri": "amqp://",  # this broker, internal connection
        "src-queue": link.queue,
        "src-prefetch-count": 64,
        "dest-protocol": "amqp091",
        "dest-uri": remote_url,
        "dest-exchange": link.remote_exchange,
        "dest-publish-properties": {"user_id": unquote(parsed.username), "delivery_mode": 2},
        "ack-mode": "on-confirm",
        "reconnect-delay": reconnect_delay_s,
    }


def set_shovels(
    links: tuple[Link, ...], ctl: Callable[..., Any], env: Mapping[str, str] | None = None,
    reconnect_delay_s: int = RECONNECT_DELAY_S,
) -> list[str]:
    """Define (or redefine, idempotently) every link's shovel through `ctl(*rabbitmqctl args)`;
    returns the shovel names. Raises LinkError, defining nothing, when a URL is missing."""
    source = os.environ if env is None else env
    values = {}
    for link in links:
        url = source.get(link.remote_url_env)
        if not url:
            raise LinkError(f"link {link.system_id}: environment variable {link.remote_url_env} is not set")
        values[link.shovel_name] = shovel_value(link, url, reconnect_delay_s)
    for name, value in values.items():
        ctl("set_parameter", "shovel", name, json.dumps(value))
    return list(values)


def rabbitmqctl(*args: str) -> None:
    """Run `rabbitmqctl` on the local node (needs the Erlang cookie); raises LinkError with the
    tool's first line of complaint."""
    try:
        done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError as exc:
        raise LinkError("rabbitmqctl not found: run on the broker host") from exc
    if done.returncode != 0:
        text = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise LinkError(f"rabbitmqctl {args[0]} failed: {text[0] if text else done.returncode}"
                        " (is the rabbitmq_shovel plugin enabled?)")


def redacted(value: Mapping[str, Any]) -> dict[str, Any]:
    """The definition with the password in `dest-uri` replaced, for printing."""
    out = dict(value)
    parsed = urlparse(str(out.get("dest-uri", "")))
    if parsed.password:
        out["dest-uri"] = parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", ":***@")).geturl()
    return out
