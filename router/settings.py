"""Settings of a hub process, from one source for every command.

Precedence, lowest first: the defaults below, a `.env` file in the working directory, the
environment (LIENTHONG_*), then explicit values (a command's flags, via `settings_from`). Every
command — `run`, `trace`, `ledger verify`, `topology apply`, `demo` … — builds its settings here,
so a default (ledger URL, prefix, retry tiers, delivery limit, directory) exists exactly once.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from router.topology.build import DEFAULT_RETRY_DELAYS_S, QueueType, TopologyOptions
from router.topology.rights import ROLES, Role
from schemas.organ import OrganId

PACKAGE_DATA = Path(__file__).resolve().parent / "data"
#: The hub's own identity in the statuses it creates (listed in the sample directory): the
#: provincial document hub run by the Sở Thông tin và Truyền thông — never the UBND tỉnh.
HUB_ORGAN = "000.02.13.H41"
HUB_NAME = "Trục liên thông văn bản tỉnh Nghệ An"


class Settings(BaseSettings):
    """One value per setting, the same for every command (see the module docstring for the
    precedence). Invalid values fail here, with the setting's name, not deep in a command."""

    model_config = SettingsConfigDict(env_prefix="LIENTHONG_", env_file=".env", extra="ignore")

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    #: Other nodes of the same cluster (`url1,url2` or a JSON list), tried in turn after
    #: `amqp_url` when the node in use is unreachable (router/TOPOLOGY.md, "A cluster").
    amqp_failover_urls: Annotated[tuple[str, ...], NoDecode] = ()
    #: The hub's role-split accounts (`lienthong topology roles`, router/topology/rights.py):
    #: each role's own broker URL. Unset, the role uses `amqp_url`, so one account keeps working.
    amqp_url_topology: str | None = None
    amqp_url_intake: str | None = None
    amqp_url_deliver: str | None = None
    amqp_url_operator: str | None = None
    prefix: str = Field("lienthong", min_length=1)
    directory: Path = PACKAGE_DATA / "nghe_an.yaml"
    ledger_url: str = "sqlite:///var/ledger.sqlite3"
    #: Root for file sinks whose `dir` option is relative.
    deliver_root: Path = Path(".")
    #: Retry tier TTLs in seconds: `2,5,10` or `[2, 5, 10]`.
    retry_delays_s: Annotated[tuple[int, ...], NoDecode] = DEFAULT_RETRY_DELAYS_S
    #: Intake's own delay tiers (P.intake.retry.N); empty = the same as `retry_delays_s`.
    intake_retry_delays_s: Annotated[tuple[int, ...], NoDecode] = ()
    #: How long a revoke/update/replace waits for its original to reach the recipient before
    #: it is parked (ORIGINAL_NOT_DELIVERED).
    original_wait_s: float = Field(86400.0, gt=0)
    delivery_limit: int = Field(5, ge=1)
    #: Queue type of every queue (only `quorum`) and members of each new quorum queue (0: left out).
    queue_type: QueueType = "quorum"
    quorum_initial_group_size: int = Field(3, ge=0)
    prefetch: int = Field(64, ge=1)
    workers: int = Field(4, ge=1)
    #: Messages a worker takes at once, for the stage to read the ledger once for all of them
    #: (router/pipeline/window.py); 1: each message reads for itself.
    window: int = Field(16, ge=1)
    #: Seconds to finish in-flight work after SIGTERM before closing anyway.
    grace_s: float = Field(20.0, ge=0)
    #: The organ code and name the hub speaks as in every status it creates (refusals at intake,
    #: hold and delivery notices): the hub's own, never a recipient's or the People's Committee's.
    hub_organ: str = HUB_ORGAN
    #: Recipients one package may name (an amplification bound; refused TOO_MANY_RECIPIENTS
    #: above it). At most 300, the bound that keeps a copy's lt-recipients header in its frame.
    max_recipients: int = Field(300, ge=1, le=300)
    hub_name: str = HUB_NAME
    #: Signature policy per system id (require | warn | off); `default` applies to the others.
    signature_policy: dict[str, str] = Field(default_factory=lambda: {"default": "off"})
    trust_dir: Path | None = None
    verify_workers: int = Field(2, ge=1)
    #: Certificate paths each verification worker keeps (signing.chaincache; a few hundred
    #: recurring signers per province fit; ~29 KiB an entry, ~30 MB a worker when full).
    verify_cache_entries: int = Field(1024, ge=1)
    #: PEM key and certificate (chain) the hub signs its own status packages with (optional).
    hub_key: Path | None = None
    hub_cert: Path | None = None
    #: Broker users of the hub's own processes besides those in this process's AMQP URLs (the
    #: other roles' accounts: `lienthong-intake,lienthong-deliver,lienthong-operator`): only their
    #: copies are delivered or replayed (COPY_FORGED), only theirs are intake's own retries.
    hub_users: Annotated[tuple[str, ...], NoDecode] = ()
    #: Broker users of adapter processes (the axis-compatible API, the folder watcher) whose
    #: `lt-on-behalf-of` claim intake trusts: `lt-gw-api,lt-gw-folders` (router/pipeline/submitter.py).
    gateway_users: Annotated[tuple[str, ...], NoDecode] = ()
    #: The axis-compatible HTTP API (`lienthong api`): its own broker URL (a gateway account),
    #: where it listens, the file of systems' secrets, how long sendEdoc waits for intake's answer.
    api_amqp_url: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, ge=0, le=65535)
    api_secrets: Path | None = None
    api_reply_wait_s: float = Field(20.0, gt=0)
    #: RabbitMQ management API (an administrator's URL) and the delegated admins of `lienthong systems`.
    management_url: str = "http://guest:guest@127.0.0.1:15672"
    admins_file: Path | None = None
    audit_log: Path = Path("var/admin-audit.jsonl")
    #: The drop-folder watcher's own broker URL (a gateway account listed in gateway_users): it
    #: submits the files of `adapter: folder` systems on their behalf (adapters/folder_poller.py).
    folders_amqp_url: str | None = None
    #: The national axis (adapters/axis/client.py, README "Connect to the national axis"): its
    #: endpoint (`https://<adapter>/XrdAdapter/adapter`), the hub's systemId on it and its secret
    #: (here or in a file; never logged), the broker URL of the gateway system's own account the
    #: poller submits with, the poll interval, and which fetch call the axis offers.
    axis_url: str | None = None
    axis_system_id: str | None = None
    axis_secret: SecretStr | None = None
    axis_secret_file: Path | None = None
    axis_amqp_url: SecretStr | None = None
    axis_poll_interval_s: float = Field(60.0, gt=0)
    axis_fetch: Literal["getEdoc", "downloadEdoc"] = "getEdoc"
    #: The day the hub began carrying documents (default: the day of the ledger's first
    #: package): a change or status from the national axis (or another hub) about a document
    #: dated before it, which the ledger cannot know, is judged by its DocumentId
    #: (router/pipeline/rights.py, README "Rights").
    carried_since: date | None = None
    #: The claim check (README "Large packages"): a package above `claim_threshold_bytes` (0: never)
    #: is stored once in the payload store at `payload_dir` (a folder every hub process sees) and
    #: travels through the broker as a small reference; a claim-checked package may be up to
    #: `claim_max_bytes` (the parser's limit for packages that come through the broker is lower);
    #: a payload every recipient has is removed `payload_retention_s` after the last delivery.
    payload_dir: Path = Path("var/payloads")
    claim_threshold_bytes: int = Field(8 * 1024 * 1024, ge=0)
    claim_max_bytes: int = Field(512 * 1024 * 1024, gt=0)
    payload_retention_s: float = Field(7 * 86400.0, ge=0)
    #: The store itself: `folder` (payload_dir) or `s3`, an S3-compatible bucket (MinIO …) at
    #: `payload_s3_endpoint` (none: the provider's default), objects under `payload_s3_prefix`;
    #: without an access key, boto3's own credential chain (an instance role) is used.
    payload_store: Literal["folder", "s3"] = "folder"
    payload_s3_endpoint: str | None = None
    payload_s3_bucket: str | None = None
    payload_s3_prefix: str = "lienthong/payloads/"
    payload_s3_region: str = "us-east-1"
    payload_s3_access_key: str | None = None
    payload_s3_secret_key: SecretStr | None = None

    @model_validator(mode="after")
    def _payload_store_complete(self) -> Settings:
        if self.payload_store == "s3" and not self.payload_s3_bucket:
            raise ValueError("LIENTHONG_PAYLOAD_STORE=s3 needs LIENTHONG_PAYLOAD_S3_BUCKET (the bucket's name)")
        if self.payload_store == "s3" and bool(self.payload_s3_access_key) != bool(self.payload_s3_secret_key):
            raise ValueError("LIENTHONG_PAYLOAD_S3_ACCESS_KEY and LIENTHONG_PAYLOAD_S3_SECRET_KEY go together")
        return self

    def axis_secret_value(self) -> str | None:
        """The axis secret: LIENTHONG_AXIS_SECRET, else the first line of LIENTHONG_AXIS_SECRET_FILE."""
        if self.axis_secret is not None:
            return self.axis_secret.get_secret_value()
        if self.axis_secret_file is not None:
            lines = self.axis_secret_file.read_text(encoding="utf-8").splitlines()
            return lines[0].strip() if lines else ""
        return None

    @field_validator("retry_delays_s", "intake_retry_delays_s", mode="before")
    @classmethod
    def _delays(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().removeprefix("[").removesuffix("]")
            return tuple(int(x) for x in text.split(",") if x.strip())
        return value

    @field_validator("hub_organ")
    @classmethod
    def _hub_organ(cls, value: str) -> str:
        if not OrganId.is_valid(value):
            raise ValueError("the hub's own organ code, LLL.KK.JJ.XNN in ASCII (e.g. 000.02.13.H41)")
        return value

    @field_validator("gateway_users", "hub_users", mode="before")
    @classmethod
    def _users(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(u.strip() for u in value.split(",") if u.strip())
        return value

    @field_validator("amqp_failover_urls", mode="before")
    @classmethod
    def _urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return tuple(json.loads(text))
            return tuple(u.strip() for u in text.split(",") if u.strip())
        return value

    @property
    def broker_urls(self) -> tuple[str, ...]:
        """Every node the hub may connect to, `amqp_url` first."""
        return (self.amqp_url, *(u for u in self.amqp_failover_urls if u != self.amqp_url))

    def role_url(self, role: Role) -> str:
        """The broker URL of one of the hub's roles: its own (LIENTHONG_AMQP_URL_<ROLE>), else `amqp_url`."""
        url: str | None = getattr(self, f"amqp_url_{role}")
        return url or self.amqp_url

    def role_urls(self, role: Role) -> tuple[str, ...]:
        """Every node the role may connect to, its URL first: the failover nodes with the role's login."""
        url: str | None = getattr(self, f"amqp_url_{role}")
        if not url:
            return self.broker_urls
        others = (with_login(node, url) for node in self.amqp_failover_urls)
        return (url, *(u for u in others if u != url))

    @property
    def all_broker_urls(self) -> tuple[str, ...]:
        """Every URL this process's settings name (the users of the hub's copies among them)."""
        roles = (getattr(self, f"amqp_url_{role}") for role in ROLES)
        return (*self.broker_urls, *(u for u in roles if u))

    @field_validator("retry_delays_s")
    @classmethod
    def _delays_positive(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(d <= 0 for d in value):
            raise ValueError("needs at least one tier, every delay a positive number of seconds")
        return value

    def topology_options(self) -> TopologyOptions:
        return TopologyOptions(
            prefix=self.prefix, delivery_limit=self.delivery_limit, retry_delays_s=tuple(self.retry_delays_s),
            intake_retry_delays_s=tuple(self.intake_retry_delays_s), queue_type=self.queue_type,
            quorum_initial_group_size=self.quorum_initial_group_size,
        )


def with_userinfo(url: str, userinfo: str) -> str:
    """`url` with `user:password` (already %-quoted) instead of its own login."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{userinfo}@{host}" if userinfo else host, parts.path, parts.query,
                       parts.fragment))


def with_login(node_url: str, login_url: str) -> str:
    """`node_url` (another node of the cluster) with the user and password of `login_url`."""
    return with_userinfo(node_url, urlsplit(login_url).netloc.rpartition("@")[0])


def settings_from(**explicit: Any) -> Settings:
    """Settings with the given values on top of environment and `.env`; `None` means "not given"
    (a flag the operator did not pass), so the lower sources decide."""
    return Settings(**{k: v for k, v in explicit.items() if v is not None})
