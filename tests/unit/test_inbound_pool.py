"""The classifier worker pool (inbound_pool): real worker processes, a deadline that kills
and replaces a stuck worker, a dead worker replaced, a classifier exception answered;
every failure is an 'unknown' verdict for review, never a guess."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from consentry.inbound.classify import Options
from consentry.inbound_pool import ClassifyPool
from consentry.metrics import METRICS

from ..helpers.slow_classify import CRASH, MARK, RAISE, misbehaving_classify

DSN = (Path(__file__).resolve().parent.parent / "data" / "bounces" / "lhost-postfix" /
       "lhost-postfix-14.eml").read_bytes()
REPLY = b"From: a@kunde.example\r\nTo: antwort@shop.example\r\nSubject: Frage\r\n\r\nBlau?\r\n"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_stuck_worker_is_killed_replaced_and_the_other_keeps_serving() -> None:
    pool = ClassifyPool(2, 4.0, target=misbehaving_classify)
    try:
        await pool.start()
        first = set(pool.pids)
        stuck = asyncio.create_task(pool.classify(REPLY.replace(b"\r\n\r\n", b"\r\n" + MARK +
                                                                b"\r\n\r\n"), [], None,
                                                  Options()))
        await asyncio.sleep(0)  # the stuck job takes its worker first
        served = [await pool.classify(DSN, [], None, Options()) for _ in range(5)]
        assert not stuck.done() and pool.timeouts == 0
        assert [v.kind for v in served] == ["bounce"] * 5
        v = await stuck
        assert v.kind == "unknown" and v.review and not v.suppress
        assert "exceeded 4 s" in v.evidence[0]
        assert (pool.timeouts, pool.restarts) == (1, 1)
        assert METRICS.classifier_failures.get("timeout", 0) >= 1
        (gone,) = first - set(pool.pids)
        assert not _alive(gone)
        assert len(pool.pids) == 2
        assert (await pool.classify(DSN, [], None, Options())).kind == "bounce"
    finally:
        await pool.close()
    assert not any(_alive(p) for p in first)


async def test_dead_worker_is_replaced_and_its_message_goes_to_review() -> None:
    pool = ClassifyPool(1, 10.0, target=misbehaving_classify)
    try:
        v = await pool.classify(REPLY.replace(b"Subject", CRASH + b"\r\nSubject"), [], None,
                                Options())
        assert v.kind == "unknown" and v.review and "died (exit 3)" in v.evidence[0]
        assert pool.restarts == 1 and pool.timeouts == 0
        assert METRICS.classifier_failures.get("died", 0) >= 1
        assert (await pool.classify(DSN, [], None, Options())).kind == "bounce"
    finally:
        await pool.close()


async def test_classifier_exception_is_an_unknown_answer_not_a_restart() -> None:
    pool = ClassifyPool(1, 10.0, target=misbehaving_classify)
    try:
        pid = pool.pids
        v = await pool.classify(REPLY.replace(b"Subject", RAISE + b"\r\nSubject"), [], None,
                                Options())
        assert v.kind == "unknown" and v.review and "classifier bug" in v.evidence[0]
        assert pool.restarts == 0 and (pid == [] or pool.pids == pid)
        assert (await pool.classify(REPLY, [], None, Options())).kind == "reply"
    finally:
        await pool.close()


async def test_cancelled_job_does_not_leave_a_stale_reply_behind() -> None:
    pool = ClassifyPool(1, 30.0, target=misbehaving_classify)
    try:
        await pool.start()
        job = asyncio.create_task(pool.classify(REPLY.replace(b"Subject", MARK +
                                                              b"\r\nSubject"), [], None,
                                                Options()))
        await asyncio.sleep(0.2)
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await job
        # the worker that held the cancelled job is gone; a fresh one answers this one
        assert (await pool.classify(DSN, [], None, Options())).kind == "bounce"
        assert len(pool.pids) == 1
    finally:
        await pool.close()


async def test_spawn_serves_where_the_forkserver_is_not_used() -> None:
    pool = ClassifyPool(1, 10.0)
    pool.method = "spawn"
    try:
        assert (await pool.classify(DSN, [], None, Options())).kind == "bounce"
    finally:
        await pool.close()


async def test_bomb_check_in_a_worker_answers_within_the_deadline() -> None:
    """check(): within the caps returns, a bomb raises ParseLimitExceeded, a check that
    misses the deadline raises LimitsUnchecked and its worker is replaced."""
    import pytest

    from consentry.inbound.parse import ParseLimitExceeded
    from consentry.inbound_pool import LimitsUnchecked

    from ..helpers.slow_classify import backtracking_limits

    pool = ClassifyPool(1, 2.0, limits=backtracking_limits, name="limits")
    try:
        await pool.check(DSN)
        wide = REPLY.replace(b"\r\n\r\n", b"\r\nContent-Type: multipart/mixed; boundary=x"
                             b"\r\n\r\n") + b"--x\r\n\r\nx\r\n" * 5_000
        with pytest.raises(ParseLimitExceeded):
            await pool.check(wide)
        first = set(pool.pids)
        with pytest.raises(LimitsUnchecked):
            await pool.check(REPLY.replace(b"\r\n\r\n", b"\r\n" + MARK + b"\r\n\r\n"))
        assert (pool.timeouts, pool.restarts) == (1, 1) and set(pool.pids) != first
        await pool.check(DSN)  # the replacement serves
    finally:
        await pool.close()
