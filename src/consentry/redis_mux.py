"""Auto-pipelining of the relay's hot-path Redis round trips (single node and Sentinel).

Why: every relayed message makes about 1.5 round trips (its lookup, its share of the
group-committed send records). Through redis-py each one pays the pool's
get_connection/release (locks, condition, observability hooks, deprecation wrappers),
Retry.call_with_retry, send_packed_command and a read_response coroutine per reply: about
14 % of the daemon's CPU at 1 recipient (bench/relay.py profile). Here, like ioredis' or
Lettuce's auto-pipelining, all requests issued within one event-loop iteration go out in
ONE socket write on one dedicated connection, and one reader task hands the replies, in
FIFO order, to per-request futures. Measured on the shared 2-CPU machine (load 3-10,
so noisy), bench/relay.py c=10, same binary with redis.auto_pipeline true vs false,
5 interleaved repeats, medians: server CPU 1945 vs 2615 µs/msg at 1 recipient, 4760 vs
6000 at 10 (every one of the 10 pairs lower), 320 vs 269 msgs/s and 135 vs 113; Redis
read events 1.02 vs 1.53 per message. Client CPU per Store round trip alone
(10 concurrent callers): lookup 96 vs 248 µs, send-record MULTI 165 vs 500 µs; with one
caller (nothing to coalesce) 190 vs 297 and 267 vs 385. Costs: two connections beside
the pool; no retry on a connection error (redis-py's default Retry has none either).

What stays redis-py's: the connection and its whole setup (AUTH/ACL user, TLS, SELECT,
CLIENT SETNAME/SETINFO, RESP version, Sentinel master discovery on every connect), the
hiredis reader redis-py configured for it (so replies, error classes and decoding are
exactly redis-py's), and the reply interpretation of the callers (store.py). Only the
per-round-trip send/read machinery is replaced. redis-py internals used (pinned by
tests/unit/test_redis_mux_pins.py): `pool.make_connection()`, a connected Connection's
`_reader` / `_writer` (asyncio streams) and `_parser._reader` (hiredis.Reader), and
redis._parsers.hiredis.NOT_ENOUGH_DATA (what that reader's gets() returns when a reply is
incomplete) and _AsyncHiredisParser (the parser class that has that reader).

Failure semantics (SPEC §3: Redis trouble -> 451, never an unchecked send):
  - a request is packed whole into the write buffer, so a MULTI ... EXEC block stays
    contiguous and its replies are read as one unit;
  - connection lost, EOF, a protocol error: every pending request fails with redis-py's
    ConnectionError (or the parser's error), the connection is dropped and the next
    request opens a new one (for Sentinel: asks the sentinels for the master again); a
    READONLY reply on a Sentinel master connection means it was demoted: the same, as
    redis-py's SentinelManagedConnection does;
  - a caller cancelled (its deadline) keeps its slot in the FIFO: the late reply is read
    and dropped, never handed to the next request;
  - a Redis that stops answering: once the oldest pending request is older than
    `stall_after` (derived from the callers' deadlines), all pending requests fail with
    TimeoutError and the connection is reset, so pending requests cannot pile up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from hiredis import PushNotification  # a RESP3 push message (never a reply)
from hiredis import pack_command as _hiredis_pack
from redis._parsers.hiredis import NOT_ENOUGH_DATA, _AsyncHiredisParser
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

READ_SIZE = 65536


class _Request:
    __slots__ = ("fut", "n", "replies", "sent_at")

    def __init__(self, fut: asyncio.Future[list[Any]], n: int, sent_at: float) -> None:
        self.fut = fut
        self.n = n  # replies expected (MULTI, each queued command and EXEC count one each)
        self.replies: list[Any] = []
        self.sent_at = sent_at


class Mux:
    """One dedicated redis-py connection, shared by all concurrent requests."""

    def __init__(self, pool: Any, stall_after: float) -> None:
        self._pool = pool
        self.stall_after = stall_after
        # A Sentinel master connection that answers READONLY was demoted (failover).
        self._demotion = isinstance(pool, SentinelConnectionPool) and pool.is_master
        self._conn: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: Any = None
        self._opening: asyncio.Task[None] | None = None
        self._pending: deque[_Request] = deque()
        self._out: list[bytes] = []
        self._flush_handle: asyncio.Handle | None = None
        self._watchdog: asyncio.Handle | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._utf8 = True
        self._shut = False  # close() was called: no connection is opened again
        self.connects = 0  # connections opened
        self.stalls = 0  # resets because Redis stopped answering

    @property
    def pending(self) -> int:
        """Requests written or about to be, whose replies have not all arrived."""
        return len(self._pending)

    def oldest_age(self) -> float:
        """Seconds the oldest pending request has waited (0.0: none pending)."""
        return time.monotonic() - self._pending[0].sent_at if self._pending else 0.0

    async def request(self, cmds: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Send `cmds` as one contiguous unit with whatever else is issued in this loop
        iteration; return their raw replies (a ResponseError as a value, not raised)."""
        loop = asyncio.get_running_loop()
        while self._conn is None or self._loop is not loop:
            if self._shut:
                raise RedisConnectionError("store closed")
            await self._open(loop)
        data = self._pack(cmds)
        req = _Request(loop.create_future(), len(cmds), time.monotonic())
        # From here to the end no await: the bytes and the FIFO slot go in together.
        self._pending.append(req)
        self._out.append(data)
        if self._flush_handle is None:
            self._flush_handle = loop.call_soon(self._flush)
        if self._watchdog is None:
            self._watchdog = loop.call_later(self.stall_after / 4, self._watch)
        return await req.fut

    # -- connection ---------------------------------------------------------------------

    async def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop not in (None, loop) or (
                self._opening is not None and self._opening.get_loop() is not loop):
            self._forget()  # left over from another (closed) event loop
        if self._opening is None:
            self._opening = loop.create_task(self._connect())
            self._opening.add_done_callback(self._opened)
        # Shielded: a caller's deadline never cancels a connect (and its handshake) midway.
        await asyncio.shield(self._opening)

    def _opened(self, task: asyncio.Task[None]) -> None:
        if self._opening is task:
            self._opening = None
        if not task.cancelled():
            task.exception()  # retrieved here too: every waiter may have been cancelled

    async def _connect(self) -> None:
        conn = self._pool.make_connection()
        try:
            await conn.connect()  # redis-py's handshake (and Sentinel master lookup)
            parser = conn._parser
            hreader = parser._reader if isinstance(parser, _AsyncHiredisParser) else None
            if hreader is None or conn._reader is None or conn._writer is None:
                raise RedisConnectionError("redis connection not usable for pipelining")
        except BaseException:
            await conn.disconnect(nowait=True)
            raise
        enc = conn.encoder
        self._utf8 = enc.encoding.lower() in ("utf-8", "utf8") and enc.encoding_errors == "strict"
        self._conn, self._writer = conn, conn._writer
        self._loop = asyncio.get_running_loop()
        self.connects += 1
        self._reader_task = self._loop.create_task(
            self._read(conn, conn._reader, hreader, self._pending))

    def _forget(self) -> None:
        """Forget a connection of another event loop without touching its objects."""
        self._conn = self._writer = self._reader_task = self._loop = None
        self._flush_handle = self._watchdog = self._opening = None
        self._pending = deque()
        self._out = []

    def _drop(self, exc: BaseException) -> None:
        """Fail every pending request with `exc` and forget the connection."""
        conn, self._conn, self._writer = self._conn, None, None
        pending, self._pending = self._pending, deque()
        self._out.clear()
        for h in (self._flush_handle, self._watchdog):
            if h is not None:
                h.cancel()
        self._flush_handle = self._watchdog = None
        task, self._reader_task = self._reader_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        for req in pending:
            if not req.fut.done():
                req.fut.set_exception(_fresh(exc))
        if conn is not None:
            t = asyncio.get_running_loop().create_task(conn.disconnect(nowait=True))
            self._closing.add(t)
            t.add_done_callback(self._closed)

    def _closed(self, task: asyncio.Task[None]) -> None:
        self._closing.discard(task)
        if not task.cancelled():
            task.exception()  # a failing close of a broken connection: nothing to do

    async def close(self) -> None:
        self._shut = True
        if self._opening is not None:
            self._opening.cancel()
            with contextlib.suppress(BaseException):
                await self._opening
        if self._conn is not None:
            self._drop(RedisConnectionError("store closed"))
        for t in list(self._closing):
            with contextlib.suppress(BaseException):
                await t

    # -- write side ---------------------------------------------------------------------

    def _pack(self, cmds: Sequence[tuple[Any, ...]]) -> bytes:
        """RESP arrays of bulk strings, byte for byte what redis-py's pack_commands sends
        (tests/unit/test_redis_mux_pins.py compares them), without its per-call work.
        Under a utf-8/strict encoder, hiredis' C packer (redis-py's own serializer when
        hiredis is there, for its sync connections): the loop below cost about half a
        microsecond an argument, 124 against 42 us for a 10-recipient message's 61
        commands (some 1.5 % of its CPU). It refuses
        (TypeError) what redis-py's Encoder refuses with DataError, and lists: the loop
        then packs or raises as before."""
        if self._utf8:
            try:
                return b"".join([_hiredis_pack(c) for c in cmds])
            except TypeError:
                pass
        encoder = self._conn.encoder
        encode = encoder.encode
        utf8 = self._utf8
        parts: list[bytes] = []
        for cmd in cmds:
            parts.append(b"*%d\r\n" % len(cmd))
            for arg in cmd:
                # str.encode() is the Encoder's own result for a str under utf-8/strict
                b = arg.encode() if utf8 and type(arg) is str else encode(arg)
                parts.append(b"$%d\r\n%b\r\n" % (len(b), b))
        return b"".join(parts)

    def _flush(self) -> None:
        self._flush_handle = None
        if self._writer is None or not self._out:
            return
        data = b"".join(self._out)
        self._out.clear()
        try:
            self._writer.write(data)
        except Exception as exc:  # a transport closing under us
            self._drop(RedisConnectionError(f"Error while writing to redis: {exc!r}"))

    def _watch(self, confirm: bool = False) -> None:
        """Every stall_after/4 while requests are pending: a Redis that stopped answering
        (the oldest request older than stall_after) fails them all and resets. Confirmed
        one callback later: after a stall of the event loop itself, the reader's wake-up
        for replies that did arrive is queued behind this timer and runs first."""
        self._watchdog = None
        if not self._pending:
            return
        assert self._loop is not None
        age = time.monotonic() - self._pending[0].sent_at
        if age <= self.stall_after:
            self._watchdog = self._loop.call_later(self.stall_after / 4, self._watch)
        elif not confirm:
            self._watchdog = self._loop.call_soon(self._watch, True)
        else:
            self.stalls += 1
            self._drop(RedisTimeoutError(
                f"redis did not answer for {age:.2f}s ({len(self._pending)} pending)"))

    # -- read side ----------------------------------------------------------------------

    async def _read(self, conn: Any, stream: asyncio.StreamReader, hreader: Any,
                    pending: deque[_Request]) -> None:
        """The one reader of `conn`; `pending` is its FIFO (a reset swaps in a new one)."""
        try:
            while True:
                data = await stream.read(READ_SIZE)
                if not data:
                    raise RedisConnectionError("Connection closed by server.")
                hreader.feed(data)
                while (reply := hreader.gets()) is not NOT_ENOUGH_DATA:
                    if isinstance(reply, PushNotification):
                        continue
                    if isinstance(reply, RedisConnectionError) or (
                            isinstance(reply, list) and reply
                            and isinstance(reply[0], RedisConnectionError)):
                        raise reply if isinstance(reply, Exception) else reply[0]
                    if self._demotion and isinstance(reply, ReadOnlyError):
                        raise RedisConnectionError("The previous master is now a slave")
                    if not pending:
                        raise RedisConnectionError("redis sent a reply nobody asked for")
                    req = pending[0]
                    req.replies.append(reply)
                    if len(req.replies) == req.n:
                        pending.popleft()
                        if not req.fut.done():  # a cancelled caller's reply is dropped
                            req.fut.set_result(req.replies)
        except asyncio.CancelledError:
            raise
        except OSError as exc:
            self._drop_if(conn, RedisConnectionError(
                f"Error while reading from redis: {exc!r}"))
        except Exception as exc:  # ConnectionError, InvalidResponse (protocol error)
            self._drop_if(conn, exc)

    def _drop_if(self, conn: Any, exc: BaseException) -> None:
        if self._conn is conn:
            self._drop(exc)


def _fresh(exc: BaseException) -> BaseException:
    """A copy of `exc` per waiter (one instance raised in many tasks grows its traceback)."""
    try:
        return type(exc)(*exc.args)
    except Exception:
        return exc
