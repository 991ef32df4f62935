"""conveyor's log lines: human-readable by default, JSON lines on request (``--log-format
json``) with the keys Flux's controllers write (controller-runtime's zap logger): ``level``,
``ts``, ``msg``, ``controller``, ``controllerGroup``, ``controllerKind``, ``name``,
``namespace``, ``reconcileID``, plus conveyor's ``service`` and the ``trace_id`` of the image
push a line belongs to.

What a line is about comes from the context a run sets (``context``): every line logged inside
it, from any module, carries those keys.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar(
    "conveyor_log_context", default={}  # noqa: B039 - never mutated: each context sets a copy
)
_LEVELS = {"WARNING": "warn", "CRITICAL": "error"}  # zap's names for Python's


@contextlib.contextmanager
def context(**fields: str) -> Iterator[None]:
    """Lines logged inside carry ``fields`` (and the enclosing context's)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def current() -> dict[str, str]:
    return dict(_context.get())


class JsonFormatter(logging.Formatter):
    """One JSON object per line, Flux's keys first (module docstring)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, Any] = {
            "level": _LEVELS.get(record.levelname, record.levelname.lower()),
            "ts": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            "msg": record.getMessage(),
            "logger": record.name,
        }
        if self.service:
            line["service"] = self.service
        line.update(_context.get())
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The default: time, level, logger, message, then what the line is about."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        about = _context.get()
        trace = about.get("trace_id")
        return f"{text} [trace {trace}]" if trace else text


def configure(level: str, log_format: str = "text", service: str = "") -> None:
    """The root logger's one handler (stderr) in ``log_format`` at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
