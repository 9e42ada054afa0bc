"""The audit chain: every suppression and consent change, provably unaltered.

Two copies (docs/audit.md):

1. the Redis stream ``cs:audit``: every writer (admin CLI, one-click, mailto, inbound
   replies/bounces/complaints, relay refusals, imports, the DOI purge) XADDs its entry in
   the *same* MULTI/EXEC as the change itself (store.py `_xadd_audit`), so no change exists
   without its entry. The stream is the ordering source for every process and host.
2. an append-only JSONL file under ``state_dir`` that mirrors the stream in stream order,
   each line carrying a sequence number, the SHA-256 of the previous line's entry and its
   own SHA-256, so an edited, deleted or reordered line is detected by `verify`.

After each change the store calls `Auditor.committed`, which appends every stream entry
not yet in the file up to the change's own entry, fsyncs, and only then lets the change be
acknowledged (HTTP 200, CLI exit 0). Several writers in one process serialise on an
asyncio lock; several processes on one host (the daemon and admin commands sharing
state_dir) on an exclusive flock, re-reading the file's tail under it; each host's file
mirrors the whole stream, so files on different hosts hold the same entries in the same
order. If the append fails (disk full, I/O error), the Redis change and its stream entry
stand (an objection must take effect at once), the caller gets AuditIncomplete (HTTP 503,
CLI exit 3), nothing partial is left in the file, and the next successful sync (the next
change, the daemon's periodic sync, `consentry audit sync`) back-fills from the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from . import logs
from .config import Config
from .errors import AuditIncomplete, StoreUnavailable
from .metrics import METRICS
from .store import Store

GENESIS = "0" * 64
BATCH = 2000  # stream entries per read while mirroring
MAX_ROUNDS = 100_000  # bounded catch-up loop (BATCH x this = far beyond the stream cap)


def canonical(d: dict[str, Any]) -> bytes:
    return json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(seq: int, sid: str, prev: str, entry: dict[str, str]) -> str:
    return hashlib.sha256(canonical({"seq": seq, "sid": sid, "prev": prev,
                                     "entry": entry})).hexdigest()


def make_line(seq: int, sid: str, prev: str, entry: dict[str, str]) -> tuple[bytes, str]:
    """The line and its hash; byte for byte what `canonical` gives (keys in sorted order:
    entry, hash, prev, seq, sid), with the entry serialised once (bulk imports)."""
    e = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    tail = f'"prev":"{prev}","seq":{seq},"sid":"{sid}"}}'
    h = hashlib.sha256(f'{{"entry":{e},{tail}'.encode()).hexdigest()
    return f'{{"entry":{e},"hash":"{h}",{tail}\n'.encode(), h


def sid_tuple(sid: str) -> tuple[int, int]:
    ms, _, seq = sid.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True, slots=True)
class Tail:
    seq: int = 0
    hash: str = GENESIS
    sid: str = "0-0"
    size: int = 0
    inode: int = 0


def _read_last_line(fh: IO[bytes], size: int) -> bytes:
    pos = size
    buf = b""
    while pos > 0:
        step = min(65536, pos)
        pos -= step
        fh.seek(pos)
        buf = fh.read(step) + buf
        body = buf[:-1] if buf.endswith(b"\n") else buf
        cut = body.rfind(b"\n")
        if cut >= 0:
            return body[cut + 1:]
    return buf[:-1] if buf.endswith(b"\n") else buf


def read_tail(fh: IO[bytes]) -> Tail:
    """The last entry of an open audit file. A torn final line (a crash before the line's
    fsync completed, so the change was never acknowledged as audited) is cut off."""
    st = os.fstat(fh.fileno())
    size = st.st_size
    if size == 0 or not os.path.isfile(f"/proc/self/fd/{fh.fileno()}"):
        return Tail(size=size, inode=st.st_ino)
    fh.seek(size - 1)
    if fh.read(1) != b"\n":
        fh.seek(0)
        good = _last_newline_end(fh, size)
        logs.get("consentry.audit").warning("audit_torn_line_cut", bytes=size - good)
        os.ftruncate(fh.fileno(), good)
        size = good
        if size == 0:
            return Tail(inode=st.st_ino)
    line = _read_last_line(fh, size)
    try:
        d = json.loads(line)
        return Tail(int(d["seq"]), str(d["hash"]), str(d["sid"]), size, st.st_ino)
    except (ValueError, KeyError, TypeError):
        raise AuditIncomplete("audit file's last line is unreadable: run `consentry audit "
                              "verify`; not appending after a damaged tail") from None


def _last_newline_end(fh: IO[bytes], size: int) -> int:
    pos = size
    while pos > 0:
        step = min(65536, pos)
        pos -= step
        fh.seek(pos)
        chunk = fh.read(step)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return pos + i + 1
    return 0


class AuditFile:
    """The hash-chained JSONL file. Blocking I/O: called in a worker thread."""

    def __init__(self, path: Path, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self.cached: Tail | None = None

    @contextlib.contextmanager
    def locked(self) -> Iterator[IO[bytes]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        fh = os.fdopen(fd, "r+b", buffering=0)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fh
        finally:
            fh.close()  # releases the flock

    def tail(self) -> Tail:
        with self.locked() as fh:
            return self._tail(fh)

    def _tail(self, fh: IO[bytes]) -> Tail:
        st = os.fstat(fh.fileno())
        c = self.cached
        if c is not None and c.size == st.st_size and c.inode == st.st_ino:
            return c
        self.cached = read_tail(fh)
        return self.cached

    def append(self, rows: Sequence[tuple[str, dict[str, str]]], gap: dict[str, str] | None
               ) -> tuple[Tail, int]:
        """Append the rows newer than the file's tail (another process may have written
        some meanwhile), all or nothing."""
        with self.locked() as fh:
            tail = self._tail(fh)
            todo = [(sid, e) for sid, e in rows if sid_tuple(sid) > sid_tuple(tail.sid)]
            if gap is not None and todo:
                todo.insert(0, (tail.sid, gap))  # marker carries the file's last stream id
            if not todo:
                return tail, 0
            seq, prev = tail.seq, tail.hash
            out = bytearray()
            last_sid = tail.sid
            for sid, entry in todo:
                seq += 1
                line, prev = make_line(seq, sid, prev, entry)
                out += line
                last_sid = sid
            try:
                written = os.write(fh.fileno(), bytes(out))
                if written != len(out):
                    raise OSError(errno.ENOSPC, "short write")
                if self.fsync:
                    os.fsync(fh.fileno())
            except OSError:
                # Leave no partial line behind (truncation works on a full disk too).
                with contextlib.suppress(OSError):
                    os.ftruncate(fh.fileno(), tail.size)
                self.cached = None
                raise
            st = os.fstat(fh.fileno())
            self.cached = Tail(seq, prev, last_sid, st.st_size, st.st_ino)
            self._write_head(self.cached)
            return self.cached, len(todo)

    @property
    def head_path(self) -> Path:
        return head_path(self.path)

    def _write_head(self, tail: Tail) -> None:
        """The chain head beside the file (`audit.jsonl.head`), replaced atomically after
        every append, under the file's lock: lines deleted from the end of the file then
        show in `verify` even without Redis. Written after the lines' fsync, so it never
        names an entry the file did not get; a failure here loses nothing (logged). Not
        fsync'd (it would double the cost of every acknowledged change): after a power
        loss it may lag behind the file or be empty, which verify reports, never as a
        broken chain."""
        tmp = self.path.with_name(self.path.name + ".head.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            try:
                os.write(fd, head_json(tail).encode() + b"\n")
            finally:
                os.close(fd)
            os.replace(tmp, self.head_path)
        except OSError as exc:
            logs.get("consentry.audit").warning("audit_head_not_written",
                                                file=str(self.head_path),
                                                reason=f"{exc.strerror or exc}")


def head_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


def head_json(tail: Tail) -> str:
    return json.dumps({"seq": tail.seq, "hash": tail.hash, "sid": tail.sid,
                       "at": f"{time.time():.6f}"}, sort_keys=True, separators=(",", ":"))


def file_identity(path: Path) -> str:
    """The field of this host's file in the Redis head hash (`Keys.audit_head`)."""
    return f"{socket.gethostname()}:{path.resolve()}"


class Auditor:
    """The store's AuditSink: mirrors the stream into the file after every change."""

    def __init__(self, store: Store, file: AuditFile | None) -> None:
        self.store = store
        self.file = file
        self.lock = asyncio.Lock()
        self.log = logs.get("consentry.audit")
        self.failures = 0
        self.checked_trim = False

    @property
    def chain_length(self) -> int:
        c = self.file.cached if self.file is not None else None
        return c.seq if c is not None else 0

    async def committed(self, last_id: str, entries: Sequence[dict[str, str]],
                        strict: bool) -> None:
        now = time.time()
        for e in entries:
            METRICS.audit_entry(e, now)
        if self.file is None:
            return
        await self.sync(last_id, strict=strict)

    async def sync(self, upto: str = "+", strict: bool = True) -> int:
        """Append every stream entry the file lacks, up to `upto`. Returns how many."""
        if self.file is None:
            return 0
        f = self.file
        async with self.lock:
            try:
                tail = await asyncio.to_thread(f.tail)
                gap = await self._gap_marker(tail)
                added = 0
                for _ in range(MAX_ROUNDS):
                    rows = await self.store.audit_range(tail.sid, upto, BATCH)
                    if not rows and gap is None:
                        break
                    new, n = await asyncio.to_thread(f.append, rows, gap)
                    added += n
                    if n:
                        await self._record_head(new)
                    gap = None
                    if new.sid == tail.sid:
                        break  # nothing newer than what the file already has
                    tail = new
                    if len(rows) < BATCH or (upto != "+" and
                                             sid_tuple(tail.sid) >= sid_tuple(upto)):
                        break
                return added
            except OSError as exc:
                self.failures += 1
                self.log.error("audit_append_failed", file=str(f.path),
                               reason=f"{exc.strerror or exc}", upto=upto,
                               hint="the change is in Redis and the cs:audit stream; it "
                                    "is appended when the file is writable again")
                if strict:
                    raise AuditIncomplete(
                        f"audit file {f.path} not written ({exc.strerror or exc}): the "
                        "change is in Redis and the audit stream, and will be appended "
                        "from there (`consentry audit sync`)") from None
                return 0
            except StoreUnavailable as exc:
                if strict:
                    raise AuditIncomplete(f"audit stream not readable: {exc}") from None
                self.log.warning("audit_sync_failed", reason=str(exc))
                return 0

    async def _record_head(self, tail: Tail) -> None:
        """The file's head in Redis too (`Keys.audit_head`): a deleted tail shows even if
        the `.head` file went with it. Best effort: the lines are already durable."""
        assert self.file is not None
        try:
            await self.store.set_audit_head(file_identity(self.file.path), head_json(tail))
        except StoreUnavailable as exc:
            self.log.warning("audit_head_not_recorded", reason=str(exc))

    async def _gap_marker(self, tail: Tail) -> dict[str, str] | None:
        """Once per process: entries the stream has trimmed (MAXLEN) before the file got
        them are gone; the file says so instead of silently skipping them."""
        if self.checked_trim:
            return None
        self.checked_trim = True
        if tail.seq == 0:
            return None
        _n, first, _last = await self.store.audit_bounds()
        if first is not None and sid_tuple(first) > sid_tuple(tail.sid):
            return {"action": "gap", "after": tail.sid, "before": first,
                    "reason": "stream entries trimmed before they reached this file",
                    "at": f"{time.time():.6f}", "actor": "audit-sync"}
        return None


# -- verification ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Break:
    line: int  # 1-based line number of the first broken entry
    seq: int | None
    kind: str  # edited | deleted | reordered | torn
    detail: str

    def describe(self) -> str:
        at = f"line {self.line}" + (f" (entry {self.seq})" if self.seq is not None else "")
        return f"{at}: {self.kind}: {self.detail}"


@dataclass(slots=True)
class Verified:
    entries: int = 0
    last: dict[str, Any] | None = None
    first_sid: str | None = None
    broken: Break | None = None
    stream: str | None = None  # what the stream cross-check found (None: not run)
    heads: list[str] = field(default_factory=list)  # what the recorded heads said


def _find_seq(path: Path, seq: int, after: int) -> int | None:
    needle = f'"seq":{seq},'.encode()
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if n > after and needle in raw:
                try:
                    if json.loads(raw).get("seq") == seq:
                        return n
                except ValueError:
                    continue
    return None


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        d = json.loads(raw)
    except ValueError:
        return None
    if (not isinstance(d, dict) or set(d) != {"seq", "sid", "prev", "entry", "hash"}
            or not isinstance(d["seq"], int) or not isinstance(d["sid"], str)
            or not isinstance(d["prev"], str) or not isinstance(d["hash"], str)
            or not isinstance(d["entry"], dict)):
        return None
    try:
        sid_tuple(d["sid"])
    except ValueError:
        return None
    return d


def verify_file(path: Path) -> Verified:
    """Check the chain line by line; stop at the first broken entry and say why."""
    out = Verified()
    prev_hash, expected, prev_sid = GENESIS, 1, (0, 0)
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.endswith(b"\n"):
                out.broken = Break(n, None, "torn", "the last line is incomplete (no newline)")
                return out
            d = _parse(raw)
            if d is None:
                out.broken = Break(n, None, "edited", "not a well-formed entry (unreadable "
                                   "JSON or fields changed)")
                return out
            seq = d["seq"]
            if entry_hash(seq, d["sid"], d["prev"], d["entry"]) != d["hash"]:
                out.broken = Break(n, seq, "edited", "its content does not match its own "
                                   "SHA-256")
                return out
            if seq != expected:
                if seq > expected:
                    where = _find_seq(path, expected, n)
                    if where is not None:
                        out.broken = Break(n, seq, "reordered", f"entry {expected} belongs "
                                           f"here but is at line {where}")
                    else:
                        gone = (f"entry {expected} is" if seq == expected + 1
                                else f"entries {expected}..{seq - 1} are")
                        out.broken = Break(n, seq, "deleted", f"{gone} missing before this "
                                           "line")
                else:
                    out.broken = Break(n, seq, "reordered", f"entry {seq} comes after entry "
                                       f"{expected - 1} (moved or duplicated)")
                return out
            if d["prev"] != prev_hash:
                if n == 1:
                    out.broken = Break(1, seq, "edited", "the first entry does not start "
                                       "the chain")
                else:
                    out.broken = Break(n - 1, seq - 1, "edited", f"its hash was recomputed, "
                                       f"but line {n} still chains to the original entry")
                return out
            sid = sid_tuple(d["sid"])
            if sid < prev_sid or (sid == prev_sid and d["entry"].get("action") != "gap"
                                  and n > 1):
                out.broken = Break(n, seq, "reordered", f"stream id {d['sid']} is not after "
                                   "the previous line's")
                return out
            if out.first_sid is None:
                out.first_sid = d["sid"]
            prev_hash, expected, prev_sid = d["hash"], seq + 1, sid
            out.entries += 1
            out.last = d
    return out


def read_head(raw: str | bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        d = json.loads(raw)
        if isinstance(d, dict) and isinstance(d.get("seq"), int) and isinstance(
                d.get("hash"), str) and isinstance(d.get("sid"), str):
            return d
    except ValueError:
        pass
    return {"seq": -1, "hash": "", "sid": "?"}  # unreadable: noted, never trusted


def read_head_file(path: Path) -> dict[str, Any] | None:
    try:
        return read_head(head_path(path).read_bytes())
    except FileNotFoundError:
        return None


def _line_hash(path: Path, line: int) -> str | None:
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if n == line:
                d = _parse(raw)
                return None if d is None else str(d["hash"])
    return None


def check_head(path: Path, out: Verified, head: dict[str, Any], where: str) -> None:
    """Compare an intact chain with a recorded head (the `.head` file, or the Redis
    head): entries the head names but the file lacks were deleted from its end; a head
    whose entry has another hash means the chain was rewritten."""
    if out.broken is not None:
        return
    last = int(out.last["seq"]) if out.last else 0
    seq, h, sid = int(head["seq"]), str(head["hash"]), str(head["sid"])
    if seq < 0:
        # Empty or torn (a power loss before the un-fsync'd head reached the disk): it
        # vouches for nothing, like a missing head; the other head and the stream still do.
        out.heads.append(f"{where}: unreadable, not used")
        return
    if seq > last:
        gone = f"entry {seq} is" if seq == last + 1 else f"entries {last + 1}..{seq} are"
        after = f" after stream id {out.last['sid']}" if out.last else ""
        out.broken = Break(out.entries + 1, last + 1, "deleted", (
            f"the tail is missing: {gone} gone from the end of the file ({where} "
            f"records entry {seq}, stream id {sid}, hash {h[:16]}…; missing: the stream "
            f"entries{after} up to {sid}; `consentry audit sync` restores them from the "
            "stream if it still holds them)"))
        return
    if seq > 0 and _line_hash(path, seq) != h:
        out.broken = Break(seq, seq, "edited", f"differs from the head {where} records "
                           f"(hash {h[:16]}…): the chain was rewritten")
        return
    out.heads.append(f"{where}: entry {seq} matches" + (
        f" ({last - seq} newer entr{'y' if last - seq == 1 else 'ies'} in the file)"
        if seq < last else ""))


async def verify_against_stream(store: Store, path: Path, out: Verified) -> None:
    """Compare every file entry the stream still holds with the stream (an edit whose
    hashes were all recomputed, or a deleted tail, then shows)."""
    n_stream, first, last = await store.audit_bounds()
    if first is None:
        out.stream = "stream empty: nothing to compare"
        return
    start = first
    if out.first_sid is not None and sid_tuple(out.first_sid) > sid_tuple(first):
        start = out.first_sid
    after, inclusive = start, True
    rows: list[tuple[str, dict[str, str]]] = []
    checked = 0
    # A CLI-only check: blocking reads on the admin command's own event loop are fine.
    with open(path, "rb") as fh:  # noqa: ASYNC230
        for n, raw in enumerate(fh, 1):
            d = json.loads(raw)
            if d["entry"].get("action") == "gap" or sid_tuple(d["sid"]) < sid_tuple(start):
                continue
            while not rows or sid_tuple(rows[-1][0]) < sid_tuple(d["sid"]):
                more = await store.audit_range(after, "+", BATCH, inclusive=inclusive)
                if not more:
                    break
                rows.extend(more)
                after, inclusive = more[-1][0], False
            while rows and sid_tuple(rows[0][0]) < sid_tuple(d["sid"]):
                sid, _e = rows.pop(0)
                out.broken = Break(n, d["seq"], "deleted", f"the stream has entry {sid}, "
                                   "which is missing from the file before this line")
                return
            if not rows or rows[0][0] != d["sid"]:
                continue  # trimmed from the stream meanwhile: nothing to compare
            _sid, fields = rows.pop(0)
            if fields != d["entry"]:
                out.broken = Break(n, d["seq"], "edited", "differs from the stream's entry "
                                   f"{d['sid']}")
                return
            checked += 1
    newer = len(rows)
    if newer == 0 and out.last is not None:
        newer = len(await store.audit_range(out.last["sid"], "+", BATCH))
    out.stream = (f"{checked} entries match the stream ({n_stream} in the stream, first "
                  f"{first}, last {last})")
    if newer:
        out.stream += (f"; the stream has {newer}{'+' if newer >= BATCH else ''} newer "
                       "entries not in the file (not yet synced, or the file's tail was "
                       "deleted: run `consentry audit sync`, then verify again)")


def audit_path(cfg: Config) -> Path | None:
    if not cfg.audit.file:
        return None
    return cfg.path(cfg.server.state_dir) / cfg.audit.file


def auditor_for(cfg: Config, store: Store) -> Auditor:
    """The process's Auditor; attach it to every Store of the process (`attach`)."""
    p = audit_path(cfg)
    return Auditor(store, AuditFile(p, cfg.audit.fsync) if p is not None else None)


def attach(store: Store, auditor: Auditor) -> Store:
    store.audit_sink = auditor
    return store


async def run_sync_loop(auditor: Auditor, interval: float, draining: Callable[[], bool]
                        ) -> None:
    """The daemon's periodic mirror: entries other hosts and tools wrote, and back-fill
    after a failed append. `draining` ends it even if a cancel was swallowed in redis-py."""
    while not draining():
        await auditor.sync("+", strict=False)
        await asyncio.sleep(interval)
