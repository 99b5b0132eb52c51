"""structlog set-up: JSON lines in production, readable console output on a terminal.

One record, one line, always: a log shipper splits on newlines, so two records sharing a line
(`}{`) lose both. Every record — structlog's and the standard library's (pika, SQLAlchemy,
uvicorn …) — is rendered by the same renderer and written by `write_line`: the text and its
newline in one write, under one lock. (The old writer used `print()`, which writes the text and
the newline separately, and the stdlib handler had its own lock: threads interleaved.)
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Literal

import structlog

LogFormat = Literal["auto", "json", "console"]

#: Set by the supervisor in each worker's environment (`lienthong run --processes`): every record
#: the worker writes names it, so the lines of N processes sharing one stream can be told apart.
WORKER_ENV = "LIENTHONG_WORKER_NAME"

_WRITE_LOCK = threading.Lock()


def write_line(text: str) -> None:
    """Write one record to the current sys.stderr as one line, atomically among threads.

    Looks sys.stderr up on every write: test runners and daemons swap the stream after start-up,
    and a logger holding the old one fails with "I/O operation on closed file"."""
    line = text.rstrip("\n") + "\n"
    with _WRITE_LOCK:
        stream = sys.stderr
        stream.write(line)
        stream.flush()


class _StderrLogger:
    """structlog's output end: every level goes through `write_line`."""

    def msg(self, message: str) -> None:
        write_line(message)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


class _NameWorker:
    """Adds `worker` and `pid` to every record (a field the record sets itself wins)."""

    def __init__(self, name: str, pid: int) -> None:
        self.name, self.pid = name, pid

    def __call__(self, logger: object, method: str, event: structlog.types.EventDict) -> structlog.types.EventDict:
        event.setdefault("worker", self.name)
        event.setdefault("pid", self.pid)
        return event


def _stderr_logger_factory(*args: object) -> _StderrLogger:
    return _StderrLogger()


class _LineHandler(logging.Handler):
    """The stdlib's records (pika, SQLAlchemy …), rendered like structlog's, written by the
    same locked writer so the two never interleave."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            write_line(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never take the process down
            self.handleError(record)


def library_level(level_name: str) -> int:
    """Libraries' own narration: pika logs every connection attempt and failure itself (INFO …
    ERROR) while the hub reports the same failure once in its own words. So library records show
    only at DEBUG, when an operator asks for everything, and otherwise only when CRITICAL."""
    return logging.DEBUG if level_name == "DEBUG" else logging.CRITICAL


def configure_logging(fmt: LogFormat | None = None, level: str | None = None) -> None:
    """`auto` picks console on a TTY and JSON otherwise, so services log JSON without flags.

    LIENTHONG_LOG_FORMAT / LIENTHONG_LOG_LEVEL override the defaults for deployments.
    """
    fmt = fmt or os.environ.get("LIENTHONG_LOG_FORMAT", "auto")  # type: ignore[assignment]
    level_name = (level or os.environ.get("LIENTHONG_LOG_LEVEL", "INFO")).upper()
    numeric = logging.getLevelName(level_name)
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level_name!r}: use DEBUG, INFO, WARNING or ERROR")
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[structlog.types.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    worker = os.environ.get(WORKER_ENV)
    if worker:
        shared.append(_NameWorker(worker, os.getpid()))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _LineHandler)]:
        root.removeHandler(old)
    handler = _LineHandler()
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processor=renderer,
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared,
                           *([structlog.processors.format_exc_info] if use_json else [])],
    ))
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in ("pika", "sqlalchemy", "urllib3", "httpx"):
        logging.getLogger(name).setLevel(max(numeric, library_level(level_name)))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            structlog.processors.StackInfoRenderer(),
            *([structlog.processors.format_exc_info] if use_json else []),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_stderr_logger_factory,
        cache_logger_on_first_use=False,
    )
