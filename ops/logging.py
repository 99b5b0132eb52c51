"""structlog set-up: JSON lines in production, readable console output on a terminal."""

from __future__ import annotations

import logging
import os
import sys
from typing import Literal

import structlog

LogFormat = Literal["auto", "json", "console"]


class _StderrLogger:
    """Looks sys.stderr up on every write: test runners and daemons swap the stream after
    start-up, and a logger holding the old one fails with "I/O operation on closed file"."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stderr_logger_factory(*args: object) -> _StderrLogger:
    return _StderrLogger()


def configure_logging(fmt: LogFormat | None = None, level: str | None = None) -> None:
    """`auto` picks console on a TTY and JSON otherwise, so services log JSON without flags.

    LIENTHONG_LOG_FORMAT / LIENTHONG_LOG_LEVEL override the defaults for deployments.
    """
    fmt = fmt or os.environ.get("LIENTHONG_LOG_FORMAT", "auto")  # type: ignore[assignment]
    level_name = (level or os.environ.get("LIENTHONG_LOG_LEVEL", "INFO")).upper()
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level_name)
    # pika narrates every frame at INFO; its warnings and errors are what an operator needs.
    logging.getLogger("pika").setLevel(max(logging.WARNING, logging.getLevelName(level_name)))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            *([structlog.processors.format_exc_info] if use_json else []),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level_name)),
        logger_factory=_stderr_logger_factory,
        cache_logger_on_first_use=False,
    )
