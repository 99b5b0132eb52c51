"""Settings of a hub process: environment (LIENTHONG_*), a .env file, or explicit values."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from router.topology.build import DEFAULT_RETRY_DELAYS_S, TopologyOptions

PACKAGE_DATA = Path(__file__).resolve().parent / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIENTHONG_", env_file=".env", extra="ignore")

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    prefix: str = "lienthong"
    directory: Path = PACKAGE_DATA / "nghe_an.yaml"
    ledger_url: str = "sqlite:///var/ledger.sqlite3"
    #: Root for file sinks whose `dir` option is relative.
    deliver_root: Path = Path(".")
    retry_delays_s: tuple[int, ...] = DEFAULT_RETRY_DELAYS_S
    #: Intake's own delay tiers (P.intake.retry.N); empty = the same as `retry_delays_s`.
    intake_retry_delays_s: tuple[int, ...] = ()
    #: How long a revoke/update/replace waits for its original to reach the recipient before
    #: it is parked (ORIGINAL_NOT_DELIVERED).
    original_wait_s: float = Field(86400.0, gt=0)
    delivery_limit: int = Field(5, ge=1)
    prefetch: int = Field(64, ge=1)
    workers: int = Field(4, ge=1)
    #: Seconds to finish in-flight work after SIGTERM before closing anyway.
    grace_s: float = Field(20.0, ge=0)
    #: Organ code the hub speaks as in statuses about whole packages (no recipient to name).
    hub_organ: str = "000.00.00.H41"
    hub_name: str = "Trục liên thông văn bản (lienthong)"
    #: Signature policy per system id (require | warn | off); `default` applies to the others.
    signature_policy: dict[str, str] = Field(default_factory=lambda: {"default": "off"})
    trust_dir: Path | None = None
    verify_workers: int = Field(2, ge=1)
    #: PEM key and certificate (chain) the hub signs its own status packages with (optional).
    hub_key: Path | None = None
    hub_cert: Path | None = None

    def topology_options(self) -> TopologyOptions:
        return TopologyOptions(
            prefix=self.prefix, delivery_limit=self.delivery_limit, retry_delays_s=tuple(self.retry_delays_s),
            intake_retry_delays_s=tuple(self.intake_retry_delays_s),
        )
