"""structlog setup: one JSON object per line when piped or to a file, aligned console
output on a terminal. Fields are capped and stripped of control bytes in console mode
(CWE-117: EHLO names and addresses are attacker-chosen)."""

from __future__ import annotations

import atexit
import json
import logging
import re
import sys
from datetime import UTC, datetime
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
# json.dumps(obj, ensure_ascii=False) builds a JSONEncoder per call: one is kept.
_LINE_KW = {"ensure_ascii": False}
_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _json_line(obj: Any, **kw: Any) -> str:
    text = _ENCODER.encode(obj) if kw == _LINE_KW else json.dumps(obj, **kw)
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
# The stream that setup() pointed a JSON chain at with info lines enabled, and that
# chain's processors (write_info_lines writes there itself while they are in force).
_json_out: tuple[IO[str], Any] | None = None


def close() -> None:
    """Close the decision log file (at exit; setup() opens it again when called)."""
    global _json_out
    _json_out = None
    while _opened:
        _opened.pop().close()


atexit.register(close)


def write_info_lines(event: str, rows: list[dict[str, Any]]) -> bool:
    """Write `rows` as `event` lines at info, in one write: each line is what the JSON
    chain setup() configured renders for ``log.info(event, **row)`` (fields in order,
    capped, then event, level and timestamp; one timestamp for the batch). The decision
    log's hot path: at 10 recipients structlog's per-call machinery was most of a
    line's cost. False, writing nothing, whenever structlog is configured otherwise
    (console output, a level above info, a test's capture): then log them through it."""
    out = _json_out
    if out is None or tuple(structlog.get_config()["processors"]) != out[1]:
        return False  # (structlog's capture_logs swaps the list's items in place)
    ts = datetime.now(tz=UTC).isoformat().replace("+00:00", "Z")  # TimeStamper's form
    lines = []
    for row in rows:
        row["event"] = event
        row["level"] = "info"
        row["timestamp"] = ts
        lines.append(_json_line(_cap_fields(None, "info", row), ensure_ascii=False))
    out[0].write("\n".join(lines) + "\n")
    out[0].flush()
    return True


def setup(cfg: LogConfig, base: str = ".") -> None:
    """Configure structlog once per process (again on reload)."""
    global _json_out
    close()  # a reload or a new App replaces the previous log file (and _json_out)
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
    chain = [*processors, renderer]
    level = getattr(logging, cfg.level.upper())
    structlog.configure(
        processors=chain,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    if fmt == "json" and level <= logging.INFO:
        _json_out = (stream, tuple(chain))


def get(name: str) -> Any:
    return structlog.get_logger(name)


def to_stderr(level: str = "warning") -> None:
    """For offline commands whose stdout is their result: log lines at `level` and above
    go to stderr, console-formatted."""
    processors: list[Any] = [structlog.processors.add_log_level, _strip_controls,
                             structlog.dev.ConsoleRenderer(colors=False)]
    global _json_out
    _json_out = None
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
