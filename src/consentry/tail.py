"""`consentry tail`: follow the decision log, filtered, readable in a terminal.

Reads the JSON lines the daemon writes (`log.decision_log`, or `--file PATH`, or
`--file -` for a pipe such as ``journalctl -u consentry -o cat -f | consentry tail
--file -``). On a terminal: aligned, coloured columns (time, verdict, rule, class,
campaign, recipient, Message-ID, first reason), every field stripped of control bytes
(recipients and Message-IDs are chosen by whoever sends the mail: CWE-117). Piped: the
matching lines exactly as logged. On exit (Ctrl-C, or end of file with `--no-follow`)
one summary line: counts per verdict and per rule (stderr when piped, so stdout stays
JSON lines). Follows rotation (new inode) and truncation.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from . import address as address_mod
from .errors import InvalidAddress

# C0/C1 controls, plus what reorders or breaks a terminal line: Unicode line/paragraph
# separators and bidi overrides (values are attacker-chosen: EHLO, addresses, Message-ID)
_CTRL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_REL = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
POLL = 0.2

RESET, BOLD, DIM = "\x1b[0m", "\x1b[1m", "\x1b[2m"
GREEN, RED, YELLOW, CYAN, MAGENTA = "\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[36m", "\x1b[35m"


def parse_when(value: str, now: float | None = None) -> float:
    """ISO 8601 (naive = UTC) or a relative age: 30s, 10m, 2h, 1d, 1w ago."""
    now = time.time() if now is None else now
    m = _REL.match(value.strip())
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time or an age like 10m/2h/1d: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def clean(value: Any) -> str:
    return _CTRL.sub("?", "" if value is None else str(value))


def _ts(row: dict[str, Any]) -> float | None:
    t = row.get("timestamp")
    if not isinstance(t, str):
        return None
    try:
        return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass(slots=True)
class Filter:
    verdicts: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    campaigns: frozenset[str] = frozenset()
    recipient: str | None = None
    recipient_key: str | None = None
    since: float | None = None
    until: float | None = None
    all_events: bool = False

    def matches(self, row: dict[str, Any]) -> bool:
        if row.get("event") != "decision":
            return self.all_events and self._time_ok(row)
        if self.verdicts and row.get("verdict") not in self.verdicts:
            return False
        if self.rules and row.get("rule") not in self.rules:
            return False
        if self.classes and row.get("message_class") not in self.classes:
            return False
        if self.campaigns and row.get("campaign") not in self.campaigns:
            return False
        if self.recipient is not None:
            rcpt = str(row.get("recipient") or "").lower()
            key = str(row.get("key") or "")
            if not (self.recipient in rcpt or self.recipient in key
                    or (self.recipient_key is not None and self.recipient_key == key)):
                return False
        return self._time_ok(row)

    def _time_ok(self, row: dict[str, Any]) -> bool:
        if self.since is None and self.until is None:
            return True
        t = _ts(row)
        if t is None:
            return False
        return (self.since is None or t >= self.since) and (self.until is None
                                                            or t <= self.until)


def make_filter(args: argparse.Namespace, fold_case: bool = True, plus: str = "+") -> Filter:
    def split(values: list[str] | None) -> frozenset[str]:
        return frozenset(v.strip() for vs in values or () for v in vs.split(",") if v.strip())

    key = None
    rcpt = args.recipient.strip().lower() if args.recipient else None
    if args.recipient and "@" in args.recipient:
        try:
            key = address_mod.parse(args.recipient.strip(), fold_case=fold_case,
                                    plus_separators=plus).key
        except InvalidAddress:
            key = None
    return Filter(split(args.verdict), split(args.rule), split(args.message_class),
                  split(args.campaign), rcpt, key, args.since, args.until, args.all_events)


@dataclass(slots=True)
class Summary:
    verdicts: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    other: int = 0
    unreadable: int = 0

    def add(self, row: dict[str, Any]) -> None:
        if row.get("event") == "decision":
            self.verdicts[clean(row.get("verdict"))] += 1
            self.rules[clean(row.get("rule"))] += 1
        else:
            self.other += 1

    def line(self) -> str:
        n = sum(self.verdicts.values())
        v = ", ".join(f"{k} {c}" for k, c in sorted(self.verdicts.items()))
        r = ", ".join(f"{k} {c}" for k, c in self.rules.most_common())
        out = f"{n} decision(s)" + (f": {v}" if v else "") + (f" | rules: {r}" if r else "")
        if self.other:
            out += f" | {self.other} other event(s)"
        if self.unreadable:
            out += f" | {self.unreadable} unreadable line(s)"
        return out


COLUMNS = (("time", 19), ("verdict", 8), ("rule", 18), ("class", 16), ("campaign", 14),
           ("recipient", 34))


class Formatter:
    def __init__(self, colour: bool, width: int) -> None:
        self.colour = colour
        self.width = width

    def _c(self, code: str, text: str) -> str:
        return f"{code}{text}{RESET}" if self.colour else text

    def header(self) -> str:
        cols = " ".join(f"{name.upper():<{w}}" for name, w in COLUMNS) + " MESSAGE-ID / REASON"
        return self._c(BOLD, cols[: self.width])

    def row(self, row: dict[str, Any]) -> str:
        t = _ts(row)
        when = (datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S") if t is not None
                else clean(row.get("timestamp"))[:19])
        if row.get("event") != "decision":
            text = f"{when:<19} {clean(row.get('level')):<8} {clean(row.get('event'))}"
            rest = {k: v for k, v in row.items() if k not in ("timestamp", "level", "event")}
            text += " " + " ".join(f"{k}={clean(v)}" for k, v in sorted(rest.items()))
            return self._c(DIM, text[: self.width])
        verdict = clean(row.get("verdict"))
        vcol = GREEN if verdict == "allow" else RED if verdict == "suppress" else YELLOW
        cells = [
            (when, 19, DIM),
            (verdict, 8, BOLD + vcol),
            (clean(row.get("rule")), 18, YELLOW),
            (clean(row.get("message_class")), 16, CYAN),
            (clean(row.get("campaign") or "-"), 14, MAGENTA),
            (clean(row.get("recipient")), 34, ""),
        ]
        parts: list[str] = []
        used = 0
        for text, w, code in cells:
            cell = text if len(text) <= w else text[: w - 1] + "…"
            padded = f"{cell:<{w}}"
            parts.append(self._c(code, padded) if code else padded)
            used += w + 1
        reasons = row.get("reasons")
        first = clean(reasons[0]) if isinstance(reasons, list) and reasons else ""
        tail = f"{clean(row.get('message_id'))}  {first}".strip()
        room = max(0, self.width - used)
        if len(tail) > room:
            tail = tail[: max(0, room - 1)] + ("…" if room else "")
        return " ".join(parts) + " " + self._c(DIM, tail)


def _start_offset(fh: IO[bytes], size: int, last: int) -> int:
    """The offset of the `last`-th line from the end (0: the end)."""
    if last <= 0:
        return size
    pos, seen = size, 0
    while pos > 0:
        step = min(65536, pos)
        pos -= step
        fh.seek(pos)
        chunk = fh.read(step)
        if pos + step == size and chunk.endswith(b"\n"):
            chunk = chunk[:-1]
        for i in range(len(chunk) - 1, -1, -1):
            if chunk[i] == 10:
                seen += 1
                if seen == last:
                    return pos + i + 1
    return 0


class Tailer:
    def __init__(self, flt: Filter, out: IO[str], err: IO[str], pretty: bool, colour: bool,
                 width: int, show_header: bool = True) -> None:
        self.flt = flt
        self.out = out
        self.err = err
        self.pretty = pretty
        self.fmt = Formatter(colour, width)
        self.summary = Summary()
        self.header_due = pretty and show_header

    def feed(self, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            return
        try:
            row = json.loads(text)
        except ValueError:
            self.summary.unreadable += 1
            return
        if not isinstance(row, dict) or not self.flt.matches(row):
            return
        self.summary.add(row)
        if self.pretty:
            if self.header_due:
                self.out.write(self.fmt.header() + "\n")
                self.header_due = False
            self.out.write(self.fmt.row(row) + "\n")
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def finish(self) -> None:
        target = self.out if self.pretty else self.err
        target.write(self.summary.line() + "\n")
        target.flush()

    def run_stream(self, fh: IO[bytes]) -> None:
        # Line by line: a live pipe (journalctl -f) delivers each line as it comes.
        for raw in fh:
            self.feed(raw)

    def run_file(self, path: Path, follow: bool, last: int, from_start: bool,
                 stop: Any = None) -> None:
        fh = open(path, "rb")  # noqa: SIM115 - reopened on rotation below
        try:
            st = os.fstat(fh.fileno())
            pos = 0 if from_start else _start_offset(fh, st.st_size, last)
            fh.seek(pos)
            inode = st.st_ino
            pending = b""
            while True:
                chunk = fh.read(65536)
                if chunk:
                    pending += chunk
                    *whole, pending = pending.split(b"\n")
                    for raw in whole:
                        self.feed(raw)
                    continue
                if not follow or (stop is not None and stop()):
                    break
                time.sleep(POLL)
                try:
                    st = os.stat(path)
                except FileNotFoundError:
                    continue  # rotated away, the new file not created yet
                if st.st_ino != inode:
                    fh.close()
                    fh = open(path, "rb")  # noqa: SIM115 - the rotated file's successor
                    inode, pending = st.st_ino, b""
                elif st.st_size < fh.tell():
                    fh.seek(0)  # truncated (copytruncate rotation)
                    pending = b""
            if pending:
                self.feed(pending)
        finally:
            fh.close()


def decision_log_path(cfg: Any) -> Path | None:
    if cfg.log.decision_log == "-":
        return None
    p = Path(cfg.log.decision_log)
    return p if p.is_absolute() else Path(cfg.base_dir) / p


def cmd_tail(cfg: Any, args: argparse.Namespace) -> int:
    if args.file == "-":
        src: Path | None = None
    elif args.file:
        src = Path(args.file)
    else:
        src = decision_log_path(cfg)
        if src is None:
            print("consentry: log.decision_log is stdout (\"-\"): pipe it in, e.g. "
                  "journalctl -u consentry -o cat -f | consentry tail --file -",
                  file=sys.stderr)
            return 2
    tty = sys.stdout.isatty()
    pretty = tty if args.format == "auto" else args.format == "columns"
    colour = pretty and tty and not args.no_color and "NO_COLOR" not in os.environ
    width = shutil.get_terminal_size((160, 24)).columns if tty else 160
    t = Tailer(make_filter(args, cfg.addresses.fold_case, cfg.addresses.plus_separators),
               sys.stdout, sys.stderr, pretty, colour, width)
    try:
        if src is None:
            t.run_stream(sys.stdin.buffer)
        else:
            if not src.exists():
                print(f"consentry: {src}: no such file", file=sys.stderr)
                return 2
            from_start = args.no_follow or args.since is not None
            t.run_file(src, follow=not args.no_follow, last=args.lines,
                       from_start=from_start and args.lines_given is False)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        return 0
    t.finish()
    return 0


def add_parser(sub: Any) -> None:
    s = sub.add_parser("tail", help="follow the decision log, filtered and readable")
    s.add_argument("--file", help="a decision log file, or - for stdin "
                                  "(default: log.decision_log)")
    s.add_argument("--verdict", action="append", help="allow, suppress (comma list)")
    s.add_argument("--rule", action="append", help="rule name(s), comma list")
    s.add_argument("--recipient", help="substring, or an address (matched normalised)")
    s.add_argument("--campaign", action="append")
    s.add_argument("--class", dest="message_class", action="append")
    s.add_argument("--since", type=parse_when, help="ISO 8601 or an age: 10m, 2h, 1d")
    s.add_argument("--until", type=parse_when)
    s.add_argument("-n", "--lines", type=int, default=None,
                   help="start this many lines before the end (default 20; with "
                        "--no-follow or --since: the whole file)")
    s.add_argument("--no-follow", action="store_true", help="stop at the end of the file")
    s.add_argument("--all-events", action="store_true", help="also non-decision events")
    s.add_argument("--format", choices=("auto", "columns", "json"), default="auto",
                   help="auto: columns on a terminal, JSON lines when piped")
    s.add_argument("--no-color", action="store_true")
    s.set_defaults(fn=_cmd, config_optional=True)


def _cmd(cfg: Any, args: argparse.Namespace) -> int:
    args.lines_given = args.lines is not None
    if args.lines is None:
        args.lines = 20
    return cmd_tail(cfg, args)


__all__ = ["Filter", "Formatter", "Summary", "Tailer", "add_parser", "parse_when"]
