"""Fixtures shared by every suite: sample files, the real broker, the real PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from tests.support.services import (
    AMQP_URL,
    PG_URL,
    ROOT,
    delete_broker_objects,
    pg_schema,
    require,
    unique_prefix,
)

# Logs go through stdlib logging in tests, so pytest captures them per test (and shows them
# on failure) instead of structlog printing to a stream pytest has already closed.
structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.dev.ConsoleRenderer(colors=False),
    ],
    wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    logger_factory=structlog.stdlib.LoggerFactory(),
    cache_logger_on_first_use=False,
)

#: the S3-compatible server and a bucket per test (tests/support/s3.py)
pytest_plugins = ["tests.support.s3"]

SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "domain" / "samples"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"shared samples not found at {SAMPLES}: clone ../shared beside the project")
    return SAMPLES


@pytest.fixture(scope="session")
def amqp_url() -> str:
    require(5672, "RabbitMQ")
    return AMQP_URL


@pytest.fixture
def broker_prefix(amqp_url: str) -> Iterator[str]:
    """A unique name prefix for this test's exchanges, queues and policies; cleaned after."""
    prefix = unique_prefix()
    yield prefix
    delete_broker_objects(prefix)


@pytest.fixture(scope="session")
def pg_url() -> str:
    require(5432, "PostgreSQL")
    return PG_URL


@pytest.fixture
def pg_ledger_url(pg_url: str) -> Iterator[str]:
    """A PostgreSQL ledger URL in a schema of its own, dropped after the test."""
    with pg_schema(pg_url) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The test once on a SQLite file and once on PostgreSQL (a schema of its own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    with pg_schema(request.getfixturevalue("pg_url"), "lt_ledger") as url:
        yield url
