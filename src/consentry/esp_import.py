"""`consentry suppress import FILE --format F`: streaming, resumable suppression import.

Memory stays bounded whatever the file size: the file is read line by line (a CSV row
may span lines inside quotes), records go to Redis in batches (one MULTI/EXEC each, with
their audit entries), bad lines are reported on stderr as ``FILE:LINE: why`` the moment
they are read and only counted. After every committed batch a checkpoint (byte offset,
line number, counters; written atomically) goes to ``state_dir/imports/``: an import that
is interrupted (Ctrl-C, kill -9, Redis down) resumes from the last committed batch when
run again on the same unchanged file; the batch in flight is re-read, and records already
stored exactly so are neither rewritten nor audited again. `--restart` ignores a
checkpoint. Progress on stderr (a bar on a terminal, a line every 10 s with --progress).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from . import esp
from .consent import AddressParser, RecordError, SuppressionLine, suppression_record
from .store import Store

BATCH = 2000
_ALIASES = {"email": "address", "e-mail": "address", "email_address": "address"}


@dataclass(slots=True)
class Progress:
    line: int = 0  # last line consumed (1-based)
    offset: int = 0  # byte offset just after it
    records: int = 0
    written: int = 0
    unchanged: int = 0
    bad: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


class Lines:
    """Decoded lines of a binary file with the byte offset after each (for checkpoints).
    Invalid UTF-8 survives as lone surrogates (reported per line, never a crash)."""

    def __init__(self, fh: IO[bytes], offset: int, line: int) -> None:
        self.fh = fh
        self.offset = offset
        self.line = line

    def __iter__(self) -> Iterator[str]:
        for raw in iter(self.fh.readline, b""):
            self.offset += len(raw)
            self.line += 1
            yield raw.decode("utf-8", errors="surrogateescape")


_SURROGATE = re.compile("[\udc80-\udcff]")


def _bad_bytes(values: Any) -> bool:
    return any(isinstance(v, str) and _SURROGATE.search(v) for v in values)


def checkpoint_path(state_dir: Path, src: Path) -> Path:
    digest = hashlib.sha256(str(src.resolve()).encode()).hexdigest()[:16]
    return state_dir / "imports" / f"{digest}.json"


def _fingerprint(src: Path) -> dict[str, Any]:
    st = src.stat()
    return {"path": str(src.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


class Importer:
    def __init__(self, store: Store, fmt: str, parse: AddressParser, kind: str | None = None,
                 scope: str | None = None, batch: int = BATCH, actor: str = "cli",
                 err: IO[str] | None = None, label: str = "-") -> None:
        self.store = store
        self.fmt = fmt
        self.mapper = esp.MAPPERS[fmt]
        self.parse = parse
        self.kind = kind
        self.scope = scope
        self.batch = batch
        self.actor = actor
        self.err = err or sys.stderr
        self.label = label
        self.p = Progress()
        self.on_batch: Callable[[Progress], None] | None = None
        self.header_error: str | None = None
        self._lines: Lines | None = None
        self.committed: Progress | None = None

    def bad(self, line: int, message: str) -> None:
        self.p.bad += 1
        self.err.write(f"{self.label}:{line}: {message}\n")

    def records_of(self, row: dict[str, Any], line: int) -> list[SuppressionLine]:
        try:
            mapped = self.mapper(row, self.kind)
        except esp.RowError as exc:
            self.bad(line, str(exc))
            return []
        out: list[SuppressionLine] = []
        for d in mapped:
            if self.scope is not None:
                d["scope"] = self.scope
            try:
                out.append(suppression_record(d, line, self.parse))
            except RecordError as exc:
                self.bad(line, str(exc))
        return out

    # -- readers: (line, row) -------------------------------------------------------------

    def _json_rows(self, lines: Lines) -> Iterator[tuple[int, dict[str, Any]]]:
        for text in lines:
            s = text.strip()
            if not s or s.startswith("#"):
                continue
            if _bad_bytes([s]):
                self.bad(lines.line, "not valid UTF-8")
                continue
            try:
                d = json.loads(s)
            except json.JSONDecodeError as exc:
                self.bad(lines.line, f"not valid JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(d, dict):
                self.bad(lines.line, "a record must be a JSON object")
                continue
            yield lines.line, d

    def _csv_rows(self, lines: Lines, header: list[str], delimiter: str
                  ) -> Iterator[tuple[int, dict[str, Any]]]:
        reader = csv.reader(lines, delimiter=delimiter)
        while True:
            start = lines.line + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self.bad(lines.line, f"CSV: {exc}")
                return
            if not any(c.strip() for c in row):
                continue
            if _bad_bytes(row):
                self.bad(start, "not valid UTF-8")
                continue
            if len(row) != len(header):
                self.bad(start, f"{len(row)} cells, header has {len(header)}")
                continue
            cells = {k: v.strip() for k, v in zip(header, row, strict=True) if v.strip()}
            yield start, esp.Normalized(cells) if self.fmt != "csv" else cells

    def _header(self, fh: IO[bytes]) -> tuple[list[str], str, int]:
        raw = fh.readline()
        text = raw.decode("utf-8", errors="surrogateescape").lstrip("\ufeff")
        delimiter = max((",", ";", "\t", "|"), key=text.count)
        names = next(csv.reader([text], delimiter=delimiter), [])
        if self.fmt == "csv":
            names = [_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in names]
        else:
            names = [esp.norm_key(h) for h in names]  # once per file, not per row
        return names, delimiter, len(raw)

    def rows(self, fh: IO[bytes], start: Progress | None
             ) -> Iterator[tuple[int, dict[str, Any]]]:
        if self.fmt in esp.JSON_FORMATS or (self.fmt == "ses" and self._peek_json(fh)):
            lines = Lines(fh, start.offset if start else 0, start.line if start else 0)
            if start:
                fh.seek(start.offset)
            self._lines = lines
            yield from self._json_rows(lines)
            return
        header, delimiter, header_len = self._header(fh)
        if self.fmt == "csv":
            self.header_error = esp.check_generic_header(header)
            if self.header_error:
                self.bad(1, self.header_error)
                return
        if start and start.offset > header_len:
            fh.seek(start.offset)
            lines = Lines(fh, start.offset, start.line)
        else:
            lines = Lines(fh, header_len, 1)
        self._lines = lines
        yield from self._csv_rows(lines, header, delimiter)

    @staticmethod
    def _peek_json(fh: IO[bytes]) -> bool:
        pos = fh.tell()
        head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        fh.seek(pos)
        return head.startswith(b"{")

    # -- the loop -----------------------------------------------------------------------

    async def run(self, fh: IO[bytes], start: Progress | None = None) -> Progress:
        if start is not None:
            self.p = Progress(**{**asdict(start), "by_reason": dict(start.by_reason)})
        pending: list[SuppressionLine] = []
        # One batch in flight while the next is parsed (Redis and this process work at
        # the same time); batches still commit, and are checkpointed, strictly in order.
        inflight: asyncio.Task[None] | None = None
        try:
            for line, row in self.rows(fh, start):
                recs = self.records_of(row, line)
                pending.extend(recs)
                self.p.records += len(recs)
                for r in recs:
                    self.p.by_reason[r.reason] = self.p.by_reason.get(r.reason, 0) + 1
                # A row's records are added together: a batch ends on a row boundary,
                # which is where the reader stands now (the checkpoint position).
                if len(pending) >= self.batch:
                    if inflight is not None:
                        await inflight
                    inflight = asyncio.ensure_future(self._flush(pending, self._snapshot()))
                    pending = []
                    for _ in range(3):  # let it send its commands before parsing on
                        await asyncio.sleep(0)
            if inflight is not None:
                await inflight
                inflight = None
            if pending:
                await self._flush(pending, self._snapshot())
        finally:
            if inflight is not None and not inflight.done():
                inflight.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await inflight
        self.p.line, self.p.offset = self._where()
        return self.p

    def _where(self) -> tuple[int, int]:
        if self._lines is not None:
            return self._lines.line, self._lines.offset
        return self.p.line, self.p.offset

    def _snapshot(self) -> Progress:
        """The position and counters up to the end of the batch being handed off (the
        next batch is already being parsed when this one commits)."""
        line, offset = self._where()
        return Progress(line, offset, self.p.records, 0, 0, self.p.bad, dict(self.p.by_reason))

    async def _flush(self, batch: list[SuppressionLine], at: Progress) -> None:
        written, unchanged = await self.store.write_suppression_batch(batch, self.actor)
        self.p.written += written
        self.p.unchanged += unchanged
        self.committed = Progress(at.line, at.offset, at.records, self.p.written,
                                  self.p.unchanged, at.bad, at.by_reason)
        if self.on_batch is not None:
            self.on_batch(self.committed)


class Checkpoint:
    """The last committed position of one import of one file, written atomically."""

    def __init__(self, path: Path, src: Path) -> None:
        self.path = path
        self.src = src
        self.fp = _fingerprint(src)

    def load(self) -> Progress | None:
        try:
            d = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if d.get("file") != self.fp:
            return None  # another file, or this one changed: start over
        try:
            return Progress(**d["progress"])
        except (KeyError, TypeError):
            return None

    def save(self, p: Progress) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"file": self.fp, "progress": asdict(p), "at": time.time()}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def clear(self) -> None:
        for q in (self.path, self.path.with_suffix(".tmp")):
            q.unlink(missing_ok=True)


class Bar:
    """Progress on stderr: a bar redrawn on a terminal, a plain line every 10 s else."""

    def __init__(self, err: IO[str], total: int, enabled: bool) -> None:
        self.err = err
        self.total = total
        self.tty = err.isatty()
        self.enabled = enabled
        self.t0 = time.monotonic()
        self.last = 0.0
        self.first_line = 0

    def update(self, p: Progress, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self.last < (0.5 if self.tty else 10.0):
            return
        self.last = now
        rate = (p.line - self.first_line) / max(now - self.t0, 1e-6)
        frac = p.offset / self.total if self.total else 0.0
        eta = (now - self.t0) / frac * (1 - frac) if frac > 0 else 0.0
        text = (f"{frac:6.1%} line {p.line:,}  {p.records:,} records ({p.written:,} written, "
                f"{p.unchanged:,} unchanged, {p.bad:,} bad)  {rate:,.0f} lines/s"
                + (f"  ETA {eta:,.0f} s" if not final and frac > 0 else ""))
        if self.tty:
            filled = int(frac * 24)
            self.err.write(f"\r[{'#' * filled}{'.' * (24 - filled)}] {text}\x1b[K"
                           + ("\n" if final else ""))
        else:
            self.err.write(text + "\n")
        self.err.flush()


async def import_file(store: Store, src: str, fmt: str, parse: AddressParser,
                      state_dir: Path, kind: str | None = None, scope: str | None = None,
                      batch: int = BATCH, restart: bool = False, progress: bool | None = None,
                      checkpoint: Path | None = None, err: IO[str] | None = None,
                      actor: str = "cli") -> tuple[Progress, Progress | None]:
    """Import one file; returns (final progress, the checkpoint resumed from or None)."""
    err = err or sys.stderr
    imp = Importer(store, fmt, parse, kind, scope, batch, actor, err, src)
    if src == "-":
        return await imp.run(sys.stdin.buffer), None
    path = Path(src)
    ck = Checkpoint(checkpoint or checkpoint_path(state_dir, path), path)
    start = None if restart else ck.load()
    if start is not None:
        err.write(f"{src}: resuming after line {start.line:,} (byte {start.offset:,}; "
                  f"{start.records:,} records already done)\n")
    bar = Bar(err, ck.fp["size"], err.isatty() if progress is None else progress)
    bar.first_line = start.line if start else 0

    def saved(p: Progress) -> None:
        ck.save(p)
        bar.update(p)

    imp.on_batch = saved
    # The admin command's own loop: blocking reads between batches are what it is for.
    with open(path, "rb") as fh:  # noqa: ASYNC230
        final = await imp.run(fh, start)
    bar.update(final, final=True)
    ck.clear()  # done: a new run imports the file afresh
    return final, start


def summary(p: Progress) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(p.by_reason.items()))
    return (f"{p.records} valid record(s) ({reasons or 'none'}): {p.written} written, "
            f"{p.unchanged} unchanged; {p.bad} bad line(s)")
