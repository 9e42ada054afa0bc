"""Downstream MTA faults under a stream of messages: the MTA killed and back on the same
port, slow, and answering 421/451/452/552 at each stage (MAIL, RCPT, the DATA command,
after the final dot).

SPEC §3: a downstream temporary failure gives the client 4xx with nothing delivered, so
its retry cannot duplicate; 552 is a permanent refusal (5xx: RFC 5321 §4.2.1, "552
Requested mail action aborted: exceeded storage allocation"), so the client gets 5xx and
nothing of that message is delivered. A 421 is followed by the MTA closing the connection
(RFC 5321 §3.8), which consentry's pooled connection must survive."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from ..helpers.daemon import Daemon
from ..helpers.redis_proc import RedisProc
from ..helpers.sink import Sink
from . import ledger
from .conftest import fault_config, retried, retry_backlog, settle
from .load import Stream, fault_window, plan, scaled

pytestmark = pytest.mark.fault

REPLIES = {
    421: "421 4.3.2 service shutting down",
    451: "451 4.3.0 local error in processing",
    452: "452 4.3.1 insufficient system storage",
    552: "552 5.3.4 message exceeds storage allocation",
}
STAGES = {  # the sink's hook for each stage
    "mail": "mail_reply",
    "rcpt": "rcpt_reply",
    "data": "data_cmd_reply",
    "dot": "data_reply",
}


async def _run(name: str, d: Daemon, rp: RedisProc, sink: Sink,
               on: Callable[[], object], off: Callable[[], object], *,
               permanent: bool = False, hold: float = 0.4, windows_ok: bool = False,
               until: Callable[[], object] | None = None, until_refused: bool = False
               ) -> ledger.Counts:
    """One stream with the fault on for `hold` seconds (and, with `until`, on until
    until() is true, bounded: fault_window), then the ledger's invariants.
    `until_refused`: on until some attempt was refused (on a slow, shared machine a
    fixed 0.4 s could fall between the stream's transactions, and the scenario's 4xx
    never happened). If the whole stream was through before the fault met any of it (a
    busy machine can let a short stream run out before the fault is on), the stream is
    run again, at most twice more, each time three times as long (a kill that takes a
    while on a loaded host still meets traffic): every run's invariants are checked all
    the same."""
    for attempt in range(3 if until_refused else 1):
        c, met = await _stream_once(f"{name}-t{attempt}" if attempt else name, d, rp, sink,
                                    on, off, permanent=permanent, hold=hold,
                                    windows_ok=windows_ok, until=until,
                                    until_refused=until_refused, longer=3 ** attempt)
        if met:
            break
    return c


async def _stream_once(name: str, d: Daemon, rp: RedisProc, sink: Sink,
                       on: Callable[[], object], off: Callable[[], object], *,
                       permanent: bool, hold: float, windows_ok: bool,
                       until: Callable[[], object] | None, until_refused: bool,
                       longer: int = 1) -> tuple[ledger.Counts, bool]:
    msgs = plan(name, scaled(12, 120) * longer)

    def refused_once() -> bool:
        return any(a.code != 250 for m in msgs for a in m.attempts)

    if until_refused:
        also = until

        def until() -> bool:
            return refused_once() and (also is None or bool(also()))
    before = retried(d)
    stream = Stream(d.port, msgs, concurrency=4)
    task = asyncio.create_task(stream.run())
    try:
        if permanent:
            await fault_window(stream, on, off, after=len(msgs) // 4,
                               finished_under_fault=max(2, len(msgs) // 4))
        else:
            await fault_window(stream, on, off, after=len(msgs) // 4, hold=hold,
                               until=until)
    finally:
        await task
    settled = await settle(rp, d, before)
    # Repetitions share their scenario's row in the counts (ids stay unique per run).
    c = ledger.count(name.rsplit("-r", 1)[0], msgs, sink.received, settled)
    ledger.check(c, permanent_ok=permanent, windows_ok=windows_ok)
    sink.received.clear()
    return c, refused_once()


@pytest.mark.parametrize("stage", list(STAGES))
async def test_downstream_answers_each_code_at_each_stage(
        stage: str, tmp_path: Path, fault_redis: RedisProc, sink: Sink,
        start_daemon: Callable[..., Awaitable[Daemon]]) -> None:
    d = await start_daemon(fault_config(tmp_path, fault_redis.url, sink))
    hook = STAGES[stage]
    for rep in range(scaled(1, 3)):
        for code, reply in REPLIES.items():
            c = await _run(
                f"downstream-{stage}-{code}-r{rep}", d, fault_redis, sink,
                lambda reply=reply: setattr(sink.control, hook, reply),
                lambda: setattr(sink.control, hook, None),
                permanent=code >= 500, until_refused=True)
            if code >= 500:
                # Permanent: the messages sent meanwhile got 5xx (none silently dropped),
                # and only while the fault lasted; the rest went through.
                assert c.permanent > 0 and c.accepted > 0, c.line()
                assert all(k[0] in "45" for k in c.refused), c.line()
            else:
                # Transient: every refusal a 451 from consentry, then delivered once.
                assert c.refused and set(c.refused) == {"451"}, c.line()
                assert c.accepted == c.messages, c.line()


async def test_downstream_killed_mid_stream_and_back(
        tmp_path: Path, fault_redis: RedisProc, sink: Sink,
        start_daemon: Callable[..., Awaitable[Daemon]]) -> None:
    d = await start_daemon(fault_config(tmp_path, fault_redis.url, sink))
    port = sink.port
    for rep in range(scaled(1, 3)):
        # A kill can land after the MTA took a final dot and before its reply left:
        # consentry answers 451 4.4.2 (ambiguous) and the client's retry may duplicate.
        # Those are counted apart (window_duplicates); every other invariant holds.
        c = await _run(f"downstream-killed-r{rep}", d, fault_redis, sink, sink.kill,
                       lambda: sink.start(port), hold=0.8, windows_ok=True,
                       until_refused=True)
        assert c.accepted == c.messages, c.line()
        assert c.refused.get("451", 0) > 0, c.line()


async def test_downstream_slow_within_its_timeouts(
        tmp_path: Path, fault_redis: RedisProc, sink: Sink,
        start_daemon: Callable[..., Awaitable[Daemon]]) -> None:
    d = await start_daemon(fault_config(tmp_path, fault_redis.url, sink))
    for rep in range(scaled(1, 3)):
        c = await _run(f"downstream-slow-r{rep}", d, fault_redis, sink,
                       lambda: setattr(sink.control, "data_delay", 0.3),
                       lambda: setattr(sink.control, "data_delay", 0.0), hold=1.0)
        # Slow but within downstream.data_timeout: nothing refused, nothing lost.
        assert c.refused == {} and c.accepted == c.messages, c.line()


async def test_downstream_flaky_after_the_first_copy_fills_the_retry_queue(
        tmp_path: Path, fault_redis: RedisProc, sink: Sink,
        start_daemon: Callable[..., Awaitable[Daemon]]) -> None:
    """Every second final dot answered 451: a message whose first copy fails gets 451
    (nothing left), one whose later copy fails gets 250 with that copy in the durable
    retry queue, delivered once by the retry worker."""
    d = await start_daemon(fault_config(tmp_path, fault_redis.url, sink))
    dots = [0]

    def flaky() -> None:
        dots[0] += 1
        sink.control.data_reply = "451 4.3.0 try again" if dots[0] % 2 == 0 else None

    def on() -> None:
        sink.control.on_data = flaky

    def off() -> None:
        sink.control.on_data = None
        sink.control.data_reply = None

    total = 0
    for rep in range(scaled(1, 3)):
        at_start = retried(d)
        # at least 1.5 s, and until both cases happened: a later copy met a 451 (a copy
        # in the retry queue or delivered from it) and a first copy did (the client got
        # 451). Which dot falls on which copy depends on how 4 sessions interleave, so a
        # fixed window could see only one of the two.
        c = await _run(f"downstream-flaky-r{rep}", d, fault_redis, sink, on, off, hold=1.5,
                       until=lambda at_start=at_start: (retry_backlog(fault_redis, d) > 0
                                                        or retried(d) > at_start),
                       until_refused=True)
        assert c.accepted == c.messages and c.refused.get("451", 0) > 0, c.line()
        total += c.retried
    assert total > 0, "no copy went through the retry queue"
