"""structlog setup: one JSON object per line when piped or to a file, aligned console
output on a terminal. Fields are capped and stripped of control bytes in console mode
(CWE-117: EHLO names and addresses are attacker-chosen)."""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import IO, Any

import structlog

from .config import LogConfig

_CTRL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
MAX_FIELD = 1000
# Written raw by json.dumps(ensure_ascii=False), yet each is trouble in a log line: C1
# controls (U+009B is CSI to a terminal showing the file), NEL and the Unicode line and
# paragraph separators (str.splitlines and old JavaScript split records there), and bidi
# overrides (they reorder what a reader sees). Escaped as \uXXXX they stay the same JSON
# value, so the evidence is kept.
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _json_line(obj: Any, **kw: Any) -> str:
    text = json.dumps(obj, **kw)
    if text.isascii():  # the common case, and the hot path (a line per recipient)
        return text
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _cap_fields(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for k, v in event.items():
        if isinstance(v, str) and len(v) > MAX_FIELD:
            event[k] = v[:MAX_FIELD] + "…"
    return event


def _strip_controls(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for k, v in event.items():
        if isinstance(v, str):
            event[k] = _CTRL.sub("?", v)
    return event


_opened: list[IO[str]] = []


def setup(cfg: LogConfig, base: str = ".") -> None:
    """Configure structlog once per process (again on reload)."""
    while _opened:  # a reload or a new App replaces the previous log file
        _opened.pop().close()
    stream: IO[str]
    if cfg.decision_log == "-":
        stream = sys.stdout
    else:
        from pathlib import Path

        p = Path(cfg.decision_log)
        if not p.is_absolute():
            p = Path(base) / p
        p.parent.mkdir(parents=True, exist_ok=True)
        stream = open(p, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - lives for the process
        _opened.append(stream)
    fmt = cfg.format
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    renderer: Any
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _cap_fields,
    ]
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(serializer=_json_line,
                                                     ensure_ascii=False)
    else:
        processors.append(_strip_controls)
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            getattr(logging, cfg.level.upper())
        ),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def get(name: str) -> Any:
    return structlog.get_logger(name)


def to_stderr(level: str = "warning") -> None:
    """For offline commands whose stdout is their result: log lines at `level` and above
    go to stderr, console-formatted."""
    processors: list[Any] = [structlog.processors.add_log_level, _strip_controls,
                             structlog.dev.ConsoleRenderer(colors=False)]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
