"""The load client of the fault suite: a sending tool that behaves like a real one.

Each message carries a unique X-Fault-Id, goes to a mix of allowed and suppressed
recipients, and is retried after every 4xx or lost connection (with a short back-off,
bounded by a deadline) until it gets 250 or a 5xx. Every attempt is written down with the
stage it reached and whether the final dot was sent, for the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..helpers.client import message
from ..helpers.rawsmtp import RawSMTP, dot_terminated
from .ledger import Attempt, Msg

SENDER = "news@sender.example"
TORTURE = bool(os.environ.get("CONSENTRY_TORTURE"))


# Pause between a session's messages: a short stream lasts long enough for its fault to
# land mid-stream (the long form's length does that by itself).
PACE = 0.02 if TORTURE else 0.08


def scaled(short: int, full: int) -> int:
    """The short form's size in `make test`, the full one under CONSENTRY_TORTURE=1."""
    return full if TORTURE else short


SUPPRESSED = 20  # gone0..gone19@example.org are suppressed before every stream


def suppressed_address(i: int) -> str:
    return f"gone{i}@example.org"


def dead_address(i: int) -> str:
    return f"dead{i}@example.org"


def plan(scenario: str, n: int, seed: int = 8, dead: int = 0) -> list[Msg]:
    """n messages with 1-3 recipients each, a third of them suppressed (some messages go
    to suppressed recipients only); ids and allowed addresses are unique per scenario
    name, so no delivery can be credited to another message. With `dead`,
    a fifth of the recipients are drawn from dead0..dead<dead-1> (the scenario makes the
    downstream refuse those with 550 5.1.1)."""
    rnd = random.Random(f"{scenario}/{seed}")  # noqa: S311 (a reproducible mix, no secret)
    msgs = []
    for i in range(n):
        allowed: list[str] = []
        suppressed: set[str] = set()
        gone: set[str] = set()
        for j in range(rnd.randint(1, 3)):
            x = rnd.random()
            if x < 1 / 3:
                suppressed.add(suppressed_address(rnd.randrange(SUPPRESSED)))
            elif dead and x < 1 / 3 + 1 / 5:
                gone.add(dead_address(rnd.randrange(dead)))
            else:
                allowed.append(f"ok.{scenario}.{i}.{j}@example.org")
        msgs.append(Msg(f"{scenario}-{i}", allowed, sorted(suppressed), sorted(gone)))
    return msgs


def content(m: Msg) -> bytes:
    return message(subject=f"fault {m.id}", headers={"X-Fault-Id": m.id},
                   msgid=f"<{m.id}@sender.example>")


async def attempt(port: int, m: Msg, read_timeout: float) -> Attempt:
    """One SMTP transaction, one command at a time; stops at the first refusal."""
    stage = "connect"
    dot_sent = False
    c = RawSMTP(port, timeout=read_timeout)
    try:
        await c.connect()
        assert c.greeting is not None
        if c.greeting.code != 220:
            return Attempt(c.greeting.code, c.greeting.text, stage)
        for stage, line in (("ehlo", "EHLO load.test"), ("mail", f"MAIL FROM:<{SENDER}>")):
            r = await c.cmd(line)
            if r.code != 250:
                return Attempt(r.code, r.text, stage)
        stage = "rcpt"
        for rcpt in m.recipients:
            r = await c.cmd(f"RCPT TO:<{rcpt}>")
            if r.code != 250:
                return Attempt(r.code, r.text, stage)
        stage = "data"
        r = await c.cmd("DATA")
        if r.code != 354:
            return Attempt(r.code, r.text, stage)
        stage = "dot"
        await c.write(dot_terminated(content(m)))
        dot_sent = True
        r = await c.reply()
        if r.code == 250:
            await c.write(b"QUIT\r\n")
        return Attempt(r.code, r.text, stage, dot_sent)
    except (OSError, EOFError, TimeoutError) as exc:
        return Attempt(0, f"{type(exc).__name__}: {exc}", stage, dot_sent)
    finally:
        await c.close()


@dataclass
class Stream:
    """Sends `msgs` with `concurrency` sessions at a time; `progress` counts messages
    finished (250 or 5xx) so a scenario can time its fault."""

    port: int
    msgs: list[Msg]
    concurrency: int = 4
    deadline: float = 60.0  # seconds for the whole stream, retries included
    backoff: float = 0.2
    timeout: float = 15.0
    pace: float = PACE
    finished: int = 0
    started: int = 0

    async def run(self) -> None:
        end = time.monotonic() + self.deadline
        queue: asyncio.Queue[Msg] = asyncio.Queue()
        for m in self.msgs:
            queue.put_nowait(m)

        async def worker() -> None:
            while True:
                try:
                    m = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                self.started += 1
                await self._until_done(m, end)
                self.finished += 1
                if self.pace:
                    await asyncio.sleep(self.pace)

        async with asyncio.TaskGroup() as tg:
            for _ in range(self.concurrency):
                tg.create_task(worker())

    async def _until_done(self, m: Msg, end: float) -> None:
        delay = self.backoff
        while True:
            a = await attempt(self.port, m, self.timeout)
            m.attempts.append(a)
            if a.code == 250 or 500 <= a.code < 600 or time.monotonic() > end:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    async def wait_finished(self, n: int, within: float = 30.0) -> None:
        """Bounded wait until n messages are finished (the moment to inject a fault)."""
        from ..helpers.waits import wait_until

        await wait_until(lambda: self.finished >= n, within=within, interval=0.005,
                         what=f"{n} messages finished")



async def _call(f: Callable[[], object]) -> None:
    result = f()
    if inspect.isawaitable(result):
        await result


async def fault_window(stream: Stream, on: Callable[[], object], off: Callable[[], object],
                       *, after: int, hold: float | None = None,
                       finished_under_fault: int | None = None,
                       until: Callable[[], object] | None = None,
                       within: float = 20.0) -> None:
    """Turn a fault on once `after` messages are finished and off again after `hold`
    seconds, or (for permanent refusals, which the client does not retry) once
    `finished_under_fault` messages picked up after it went on are finished: those ran
    under the fault from start to end. With `until`, the fault also stays on after `hold`
    until until() is true (bounded by `within`; the test's own assertions report a
    timeout): a scenario that needs the fault to meet some traffic does not depend on
    how many messages a slow, shared machine gets through in `hold`. The stream keeps
    coming throughout. `on` and `off` may be coroutine functions."""
    from ..helpers.waits import wait_until

    await stream.wait_finished(after)
    await _call(on)
    try:
        if finished_under_fault is not None:
            await stream.wait_finished(stream.started + finished_under_fault)
        else:
            await asyncio.sleep(hold or 0.5)
            if until is not None:
                with contextlib.suppress(AssertionError):
                    await wait_until(until, within=within, what="the fault met its traffic")
    finally:
        await _call(off)
