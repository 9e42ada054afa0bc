"""Classification of inbound messages in worker processes, under a per-message deadline.

A hostile message (a regular expression driven into catastrophic backtracking, a MIME
tree that is expensive to walk) must not stall the inbound listener. A thread cannot be
stopped and holds the interpreter lock while a regular expression runs, so the work runs
in separate processes: ``inbound.parse_workers`` of them, each answering one message at a
time over a pipe. A worker that misses ``inbound.parse_timeout`` is killed (SIGKILL) and
replaced; a worker that dies is replaced too. Either way the message's verdict is
``unknown`` with review: the caller forwards it to the review mailbox — never lost and
never a suppression. The other workers keep serving meanwhile.

The same pool runs the listener's MIME bomb check (``check()``: the linear structure caps
of ``inbound.parse.check_limits``, answered before the 250) under the same deadline, so
not even that check runs in a thread of the daemon; the listener keeps a pool of its own
for it, so a stuck classification never delays an SMTP reply.

Workers are forked from a forkserver that preloaded the classifier (never a fork of the
threaded event loop), are ready before the listener opens, and ignore SIGINT (the
daemon's signal handling decides when they stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import pickle
import signal
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from . import logs
from .inbound.classify import Options, Verdict, classify
from .inbound.parse import ParseLimitExceeded, check_limits
from .metrics import METRICS

__all__ = ["ClassifyPool", "LimitsUnchecked", "Target"]

Target = Callable[[bytes, Sequence[str], "str | None", Options], Verdict]
LimitsCheck = Callable[[bytes], None]


class LimitsUnchecked(Exception):
    """The bomb check did not finish within the deadline (or its worker died)."""


def _serve(conn: Connection, target: Target, limits: LimitsCheck) -> None:
    """The worker: one job after another until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn.send_bytes(b"ready")  # the imports are done
    while True:
        try:
            job = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            # our own parent over a private pipe: trusted
            op, args = pickle.loads(job)  # noqa: S301
            if op == "limits":
                try:
                    limits(args[0])
                    reply: tuple[str, Any] = ("ok", None)
                except ParseLimitExceeded as exc:
                    reply = ("limit", str(exc))
            else:
                reply = ("ok", target(*args))
        except Exception as exc:  # a classifier bug is an answer, not a dead worker
            reply = ("error", repr(exc)[:300])
        try:
            conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        except (EOFError, OSError):
            return


def _context(method: str) -> Any:  # SpawnContext | ForkServerContext
    """The forkserver: a clean process (no event loop, no threads) that imported the
    classifier once and forks each worker from there — workers start in milliseconds,
    and neither the daemon's main module nor its state is copied into them. ``spawn``
    where the forkserver is unavailable."""
    if method != "forkserver" or "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["consentry.inbound.classify", "consentry.inbound_pool"])
    return ctx


class _Worker:
    def __init__(self, target: Target, limits: LimitsCheck, method: str) -> None:
        ctx = _context(method)
        parent, child = ctx.Pipe(duplex=True)
        self.conn = parent
        self.proc: BaseProcess = ctx.Process(target=_serve, args=(child, target, limits),
                                             name="consentry-classify", daemon=True)
        self.proc.start()
        child.close()
        self.jobs = 0
        # Block (in the caller's thread) until the worker has imported the classifier,
        # so the first message does not pay for it inside its deadline.
        if not parent.poll(60.0) or parent.recv_bytes() != b"ready":
            self.kill()
            raise OSError("classifier worker did not start")

    @property
    def pid(self) -> int | None:
        return self.proc.pid

    def call(self, job: bytes) -> tuple[str, Any]:
        """Blocking round trip (run in a thread). Raises EOFError/OSError when the
        worker died or was killed meanwhile."""
        self.conn.send_bytes(job)
        reply: tuple[str, Any] = pickle.loads(self.conn.recv_bytes())  # noqa: S301 (our child)
        return reply

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.proc.kill()
        self.proc.join(5.0)
        with contextlib.suppress(OSError):
            self.conn.close()


class ClassifyPool:
    """`workers` classifier processes; `classify()` answers within `timeout` seconds
    (plus the worker's restart when it had to be killed)."""

    def __init__(self, workers: int, timeout: float, target: Target = classify,
                 limits: LimitsCheck = check_limits, name: str = "classify",
                 then: str = "forwarded for review") -> None:
        self.size = max(1, workers)
        self.timeout = timeout
        self.then = then  # what becomes of a message that failed, for its evidence
        self.target = target
        self.limits = limits
        self.name = name  # in log lines: "classify" or "limits" (the listener's own pool)
        self.method = "forkserver"
        self.log = logs.get("consentry.inbound")
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: set[_Worker] = set()
        self._starting: asyncio.Lock | None = None
        self.restarts = 0
        self.timeouts = 0
        self.closed = False

    @property
    def pids(self) -> list[int]:
        return sorted(w.pid for w in self._all if w.pid is not None)

    async def _spawn(self) -> _Worker:
        try:
            w = await asyncio.to_thread(_Worker, self.target, self.limits, self.method)
        except (OSError, RuntimeError, ValueError) as exc:
            if self.method == "spawn":
                raise
            # e.g. no writable temporary directory for the forkserver's socket
            self.log.warning("inbound_forkserver_unavailable", error=repr(exc)[:200],
                             fallback="spawn")
            self.method = "spawn"
            w = await asyncio.to_thread(_Worker, self.target, self.limits, self.method)
        self._all.add(w)
        return w

    async def start(self) -> None:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._idle is not None:
                return
            idle: asyncio.Queue[_Worker] = asyncio.Queue()
            for w in await asyncio.gather(*(self._spawn() for _ in range(self.size))):
                idle.put_nowait(w)
            self._idle = idle
            self.log.info("inbound_classifiers_started", workers=self.size, pids=self.pids,
                          timeout=self.timeout, pool=self.name)

    async def _replace(self, w: _Worker) -> _Worker:
        self._all.discard(w)
        await asyncio.to_thread(w.kill)
        self.restarts += 1
        return await self._spawn()

    async def classify(self, data: bytes, rcpts: Sequence[str], mail_from: str | None,
                       opts: Options) -> Verdict:
        status, value = await self._call(("classify", (data, list(rcpts), mail_from, opts)),
                                         len(data))
        then = f"; {self.then}" if self.then else ""
        if status == "timeout":
            return Verdict("unknown", review=True, evidence=(
                f"classification exceeded {self.timeout:g} s (inbound.parse_timeout): "
                f"worker {value} killed and replaced{then}",))
        if status == "died":
            return Verdict("unknown", review=True, evidence=(
                f"classifier worker {value}{then}",))
        if status != "ok" or not isinstance(value, Verdict):
            return Verdict("unknown", review=True,
                           evidence=(f"classifier error: {str(value)[:200]}",))
        return value

    async def check(self, data: bytes) -> None:
        """The MIME bomb check (inbound.parse.check_limits) in a worker under the
        deadline: returns when `data` is within the caps, raises ParseLimitExceeded when
        it is a bomb, LimitsUnchecked when the check missed the deadline, its worker died
        or it failed."""
        status, value = await self._call(("limits", (data,)), len(data))
        if status == "ok":
            return
        if status == "limit":
            raise ParseLimitExceeded(str(value))
        raise LimitsUnchecked(f"{status}: {value}"[:300])

    async def _call(self, job: tuple[str, tuple[Any, ...]], size: int) -> tuple[str, Any]:
        """One job on an idle worker within the deadline: the worker's ("ok"|"limit"|
        "error", value), or ("timeout", pid) / ("died", description) when the worker was
        killed or died — then it has been replaced."""
        if self.closed:
            raise RuntimeError("classifier pool closed")
        await self.start()
        assert self._idle is not None
        if self._idle.empty() and len(self._all) < self.size:
            # a replacement that failed to start earlier, or one lost to cancellation
            self._idle.put_nowait(await self._spawn())
        w = await self._idle.get()
        raw = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        t0 = time.monotonic()
        back: _Worker | None = w
        try:
            try:
                status, value = await asyncio.wait_for(asyncio.to_thread(w.call, raw),
                                                       timeout=self.timeout)
            except TimeoutError:
                self.timeouts += 1
                METRICS.classifier_failure("timeout")
                self.log.warning("inbound_classify_timeout", pid=w.pid, op=job[0],
                                 timeout=self.timeout, size=size)
                back = None
                back = await self._replace(w)
                return "timeout", w.pid
            except asyncio.CancelledError:
                # The thread may still get this job's reply: the worker is not reusable.
                back = None
                self._all.discard(w)
                w.kill()
                raise
            except (EOFError, OSError) as exc:
                METRICS.classifier_failure("died")
                self.log.error("inbound_classifier_died", pid=w.pid, op=job[0],
                               exitcode=w.proc.exitcode, error=repr(exc)[:200])
                back = None
                back = await self._replace(w)
                return "died", f"{w.pid} died (exit {w.proc.exitcode})"
            w.jobs += 1
            if status == "error":
                METRICS.classifier_failure("error")
                self.log.error("inbound_classifier_error", pid=w.pid, op=job[0],
                               error=str(value)[:300])
            return status, value
        finally:
            if back is not None and not self.closed:
                self._idle.put_nowait(back)
            elif back is not None:
                await asyncio.to_thread(back.kill)
            self.log.debug("inbound_classified", op=job[0],
                           ms=round((time.monotonic() - t0) * 1000, 1))

    async def close(self) -> None:
        """Kill every worker (a job in flight gets EOFError in its thread)."""
        self.closed = True
        workers, self._all = list(self._all), set()
        for w in workers:
            await asyncio.to_thread(w.kill)

