"""The inbound listener end to end: real Redis, the daemon on port 0, an aiosmtpd sink as
downstream (where the review mailbox's copies arrive)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from consentry.keyfiles import token_codec

from ..helpers.client import message, send
from ..helpers.waits import wait_until

DATA = Path(__file__).resolve().parent.parent / "data"
INBOUND = {"enabled": True, "listen": ["127.0.0.1:0"], "domain": "bounce.shop.test",
           "reply_addresses": ["antwort@shop.test"], "review_mailbox": "review@shop.test"}


@pytest.fixture
async def daemon(make_config, sink, start_app):
    cfg = make_config(sink, inbound=INBOUND, policy={"require_basis": False},
                      unsubscribe={"mailto_domain": "shop.test"})
    running = await start_app(cfg)
    running.inbound_port = running.app.inbound.ports[0]
    return running


def _spooled(running) -> list[Path]:
    return list(Path(running.app.inbound.spool.dir).glob("*.eml"))


async def _idle(running) -> None:
    proc = running.app.inbound.processor
    await wait_until(lambda: proc.idle.is_set() and proc.queue.empty(), within=10,
                     what="inbound processing")


async def _token(running, recipient: str, purpose: str) -> str:
    cfg = running.app.cfg
    codec = token_codec(cfg)
    ref = codec.reference(recipient, "global", "c1")
    await running.app.store.save_token_refs([(ref.ref, ref.to_json())], ttl=86400)
    return codec.issue(ref, time.time(), purpose=purpose)


async def test_only_our_addresses_are_accepted(daemon):
    tok = await _token(daemon, "kunde@isp.example", "bounce")
    code, _, refused = await send(daemon.inbound_port, [
        "someone@elsewhere.example", f"bounces+{tok}@bounce.shop.test",
        f"bounces+{'a' * 48}@bounce.shop.test", "antwort@shop.test",
        f"bounces+{tok}@other.test"], message(), mail_from="")
    assert code == 250
    assert set(refused) == {"someone@elsewhere.example", f"bounces+{'a' * 48}@bounce.shop.test",
                            f"bounces+{tok}@other.test"}
    assert all(v.startswith("550") for v in refused.values())


async def test_dsn_for_a_verp_address_stops_the_next_marketing_mail(daemon, sink, sync_redis):
    tok = await _token(daemon, "kijitora@2jo.example.jp", "bounce")
    dsn = (DATA / "bounces/lhost-postfix/lhost-postfix-14.eml").read_bytes()
    code, text, _ = await send(daemon.inbound_port, [f"bounces+{tok}@bounce.shop.test"],
                               dsn.replace(b"\n", b"\r\n"), mail_from="")
    assert code == 250, text
    await _idle(daemon)
    supp = json.loads(sync_redis.hget("cs:supp:kijitora@2jo.example.jp", "global"))
    assert (supp["reason"], supp["source"]) == ("hard_bounce", "bounce")
    assert supp["evidence"].startswith("<20150213024813.E068820C1A")
    code, _, _ = await send(daemon.port, ["kijitora@2jo.example.jp", "other@example.org"],
                            message(headers={"X-Consent-Class": "marketing"}))
    assert code == 250
    assert sink.delivered_to() == ["other@example.org"]
    assert not any(r.rcpts == ["review@shop.test"] for r in sink.received)


async def test_arf_complaint_suppresses(daemon, sync_redis):
    tok = await _token(daemon, "kijitora@y.example.com", "bounce")
    arf = (DATA / "bounces/arf/arf-14.eml").read_bytes().replace(b"\n", b"\r\n")
    code, _, _ = await send(daemon.inbound_port, [f"bounces+{tok}@bounce.shop.test"], arf,
                            mail_from="")
    assert code == 250
    await _idle(daemon)
    supp = json.loads(sync_redis.hget("cs:supp:kijitora@y.example.com", "global"))
    assert supp["reason"] == "complaint"


async def test_german_objection_suppresses_linked_addresses_and_is_forwarded(
        daemon, sink, sync_redis):
    raw = (DATA / "replies/001.eml").read_bytes().replace(b"\n", b"\r\n")
    sync_redis.hset("cs:addr:hartmann@praxis-dr-engel.example",
                    mapping={"person": "p-7", "linked": json.dumps(["o.hartmann@home.example"])})
    code, _, _ = await send(daemon.inbound_port, ["antwort@shop.test"], raw,
                            mail_from="hartmann@praxis-dr-engel.example")
    assert code == 250
    await _idle(daemon)
    for key in ("hartmann@praxis-dr-engel.example", "o.hartmann@home.example"):
        supp = json.loads(sync_redis.hget(f"cs:supp:{key}", "global"))
        assert (supp["reason"], supp["source"]) == ("objection", "reply")
    (fwd,) = [r for r in sink.received if r.rcpts == ["review@shop.test"]]
    assert b"X-Consentry-Verdict: kind=unsubscribe; confidence=0.95" in fwd.content
    assert b"Hiermit widerspreche ich" in fwd.content
    assert not _spooled(daemon)


async def test_out_of_office_suppresses_nothing(daemon, sink, sync_redis):
    raw = (DATA / "replies/010.eml").read_bytes().replace(b"\n", b"\r\n")
    code, _, _ = await send(daemon.inbound_port, ["antwort@shop.test"], raw, mail_from="")
    assert code == 250
    await _idle(daemon)
    assert sync_redis.keys("cs:supp:*") == []
    assert sink.received == []
    rows = sync_redis.xrange("cs:inbound")
    assert [r[1]["kind"] for r in rows] == ["autoreply"]


async def test_forged_verdict_headers_are_removed(daemon, sink):
    raw = (b"From: a@kunde.example\r\nTo: antwort@shop.test\r\nSubject: Frage\r\n"
           b"X-Consentry-Verdict: kind=reply; review=no\r\n\r\nGibt es das in Blau?\r\n")
    code, _, _ = await send(daemon.inbound_port, ["antwort@shop.test"], raw,
                            mail_from="a@kunde.example")
    assert code == 250
    await _idle(daemon)
    (fwd,) = sink.received
    assert fwd.content.count(b"X-Consentry-Verdict:") == 1
    assert b"X-Consentry-Verdict: kind=reply; confidence=0.00" in fwd.content


async def test_spooled_message_survives_a_redis_outage(daemon, sink, redis_proc, sync_redis):
    raw = (DATA / "replies/021.eml").read_bytes().replace(b"\n", b"\r\n")
    redis_proc.cli("CLIENT", "PAUSE", "3000", "WRITE")
    code, _, _ = await send(daemon.inbound_port, ["antwort@shop.test"], raw,
                            mail_from="oneill@riverbank-diagnostics.example")
    assert code == 250  # durable in the spool, Redis or not
    proc = daemon.app.inbound.processor
    await wait_until(lambda: proc.counters.get("deferred_store", 0) >= 1, within=10,
                     what="a deferred write")
    assert _spooled(daemon)
    await wait_until(lambda: sync_redis.hget("cs:supp:oneill@riverbank-diagnostics.example",
                                             "global") is not None,
                     within=15, what="the retry after Redis is back")
    await _idle(daemon)
    assert not _spooled(daemon)
    assert json.loads(sync_redis.hget("cs:supp:oneill@riverbank-diagnostics.example",
                                      "global"))["reason"] == "objection"


async def test_spool_left_by_a_crash_is_processed_at_start(make_config, sink, start_app,
                                                           sync_redis, tmp_path):
    from consentry.inbound_server import Spool

    cfg = make_config(sink, inbound=INBOUND, policy={"require_basis": False})
    spool = Spool(cfg.path(cfg.inbound.spool_dir))
    raw = (DATA / "replies/022.eml").read_bytes()
    spool.put({"mail_from": "katrin.lange@praxis-dr-engel.example",
               "rcpts": ["antwort@shop.test"], "peer": "test", "received_at": time.time()},
              raw)
    running = await start_app(cfg)
    await _idle(running)
    supp = sync_redis.hget("cs:supp:katrin.lange@praxis-dr-engel.example", "global")
    assert json.loads(supp)["reason"] == "objection"
    assert [r.rcpts for r in sink.received] == [["review@shop.test"]]


async def test_mime_bomb_is_refused_before_acceptance(daemon, sink):
    bomb = (b"From: x@y.example\r\nTo: antwort@shop.test\r\nSubject: bomb\r\n"
            + b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
                       for i in range(10_000)) + b"Content-Type: text/plain\r\n\r\nx\r\n")
    code, text, _ = await send(daemon.inbound_port, ["antwort@shop.test"], bomb,
                               mail_from="x@y.example")
    assert code == 554 and "limits" in text
    assert not _spooled(daemon) and sink.received == []


def _nested(depth: int) -> bytes:
    return b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
                    for i in range(depth)) + b"Content-Type: text/plain\r\n\r\nx\r\n"


async def test_bomb_check_runs_in_a_worker_and_a_stuck_one_stalls_no_other_mail(
        make_config, sink, start_app):
    """The MIME bomb check before the 250 runs in the listener's own worker processes
    under inbound.parse_timeout: a message that keeps one check worker busy (driven into
    catastrophic backtracking) gets 451 at the deadline (the sender keeps it), while an
    ordinary reply and a real bomb sent meanwhile are answered at once (250, 554)."""
    import asyncio
    import os

    from consentry.inbound_pool import ClassifyPool

    from ..helpers.slow_classify import MARK, backtracking_limits

    cfg = make_config(sink, inbound={**INBOUND, "parse_timeout": 3, "parse_workers": 2},
                      policy={"require_basis": False},
                      unsubscribe={"mailto_domain": "shop.test"})
    running = await start_app(cfg)
    port = running.app.inbound.ports[0]
    handler = running.app.inbound.handler
    real = handler.checks
    assert real.pids and os.getpid() not in real.pids  # started with the listener
    await real.close()
    handler.checks = ClassifyPool(2, 3.0, limits=backtracking_limits, name="limits")
    await handler.checks.start()
    before = set(handler.checks.pids)
    hostile = (b"From: x@isp.example\r\nTo: antwort@shop.test\r\n" + MARK + b"\r\n"
               b"Subject: nested\r\nMIME-Version: 1.0\r\n" + _nested(40))
    t0 = time.monotonic()
    stuck = asyncio.create_task(send(port, ["antwort@shop.test"], hostile,
                                     mail_from="x@isp.example"))
    idle = handler.checks._idle
    assert idle is not None
    await wait_until(lambda: idle.qsize() == 1, within=5, what="the hostile check taken")
    plain = (b"From: frage@isp.example\r\nTo: antwort@shop.test\r\nSubject: Frage\r\n\r\n"
             b"Gibt es das Modell auch in Blau?\r\n")
    code, _, _ = await send(port, ["antwort@shop.test"], plain, mail_from="frage@isp.example")
    assert code == 250 and not stuck.done(), "the ordinary reply waited for the hostile one"
    bomb = (b"From: x@y.example\r\nTo: antwort@shop.test\r\nSubject: bomb\r\n"
            + _nested(10_000))
    code, text, _ = await send(port, ["antwort@shop.test"], bomb, mail_from="x@y.example")
    assert code == 554 and "limits" in text and not stuck.done()
    await wait_until(lambda: any(b"Gibt es das Modell" in r.content for r in sink.received),
                     within=10, what="the ordinary reply forwarded")
    code, text, _ = await stuck
    assert code == 451 and "could not be checked" in text
    assert 2.5 < time.monotonic() - t0 < 15
    assert (handler.checks.timeouts, handler.checks.restarts) == (1, 1)
    after = set(handler.checks.pids)
    assert len(after) == 2 and len(after - before) == 1  # the stuck worker was replaced
    assert running.app.inbound.processor.pool.timeouts == 0
    assert not any(MARK in r.content for r in sink.received)
    assert not [p for p in _spooled(running) if MARK in p.read_bytes()]


async def test_unreadable_verp_bounces_hard_only_on_permanent_words(daemon, sync_redis):
    """SPEC §4: the VERP token names the recipient of a bounce nobody can parse; its words
    decide: 'permanent' + 'existiert nicht' suppresses, a vague text is one soft count."""
    hard_tok = await _token(daemon, "weg@isp.example", "bounce")
    soft_tok = await _token(daemon, "vage@isp.example", "bounce")
    for tok, body in ((hard_tok, "Der Empfaenger existiert nicht. Dies ist ein permanenter "
                                 "Fehler."),
                      (soft_tok, "Es gab ein Problem mit Ihrer Nachricht.")):
        raw = (f"From: MAILER-DAEMON@mx.isp.example\r\nTo: bounces+{tok}@bounce.shop.test\r\n"
               f"Subject: Unzustellbar\r\n\r\n{body}\r\n").encode()
        code, _, _ = await send(daemon.inbound_port, [f"bounces+{tok}@bounce.shop.test"], raw,
                                mail_from="")
        assert code == 250
    await _idle(daemon)
    supp = json.loads(sync_redis.hget("cs:supp:weg@isp.example", "global"))
    assert (supp["reason"], supp["source"]) == ("hard_bounce", "bounce")
    assert sync_redis.hgetall("cs:supp:vage@isp.example") == {}
    assert sync_redis.zcard("cs:softb:vage@isp.example") == 1
    assert sync_redis.zcard("cs:softb:weg@isp.example") == 0


async def test_a_message_that_hangs_the_parser_goes_to_review_and_others_are_served(
        make_config, sink, start_app, sync_redis):
    """inbound.parse_timeout: the worker stuck on a hostile message is killed and replaced,
    the message is forwarded to review as unknown (no suppression), and the listener and
    the other worker keep serving ordinary messages meanwhile."""
    from consentry.inbound_pool import ClassifyPool

    from ..helpers.slow_classify import MARK, backtracking_classify

    cfg = make_config(sink, inbound={**INBOUND, "parse_timeout": 3, "parse_workers": 2},
                      policy={"require_basis": False},
                      unsubscribe={"mailto_domain": "shop.test"})
    running = await start_app(cfg)
    port = running.app.inbound.ports[0]
    proc = running.app.inbound.processor
    await proc.pool.close()
    proc.pool = ClassifyPool(2, 3.0, target=backtracking_classify)
    await proc.pool.start()
    before = set(proc.pool.pids)
    hostile = (b"From: kunde@isp.example\r\nTo: antwort@shop.test\r\n" + MARK + b"\r\n"
               b"Subject: bitte abmelden\r\n\r\nBitte nehmen Sie mich aus dem Verteiler.\r\n")
    code, _, _ = await send(port, ["antwort@shop.test"], hostile, mail_from="kunde@isp.example")
    assert code == 250
    # While a worker spins on it, an ordinary reply is accepted and fully processed.
    plain = (b"From: frage@isp.example\r\nTo: antwort@shop.test\r\nSubject: Frage\r\n\r\n"
             b"Gibt es das Modell auch in Blau?\r\n")
    code, _, _ = await send(port, ["antwort@shop.test"], plain, mail_from="frage@isp.example")
    assert code == 250
    await wait_until(lambda: any(b"Gibt es das Modell" in r.content for r in sink.received),
                     within=10, what="the ordinary reply forwarded")
    assert proc.pool.timeouts == 0, "the ordinary reply waited for the hostile one"
    await wait_until(lambda: proc.idle.is_set() and proc.queue.empty(), within=20,
                     what="the hostile message handled")
    assert proc.pool.timeouts == 1 and proc.pool.restarts == 1
    (fwd,) = [r for r in sink.received if MARK in r.content]
    assert fwd.rcpts == ["review@shop.test"]
    assert b"X-Consentry-Verdict: kind=unknown" in fwd.content
    assert sync_redis.keys("cs:supp:*") == []  # never a suppression on a guess
    after = set(proc.pool.pids)
    assert len(after) == 2 and len(after - before) == 1  # the stuck worker was replaced
    # The replacement serves: the same objection without the mark is understood.
    code, _, _ = await send(port, ["antwort@shop.test"], hostile.replace(MARK + b"\r\n", b""),
                            mail_from="kunde@isp.example")
    assert code == 250
    await wait_until(lambda: sync_redis.hget("cs:supp:kunde@isp.example", "global") is not None,
                     within=10, what="the objection after the restart")
    assert json.loads(sync_redis.hget("cs:supp:kunde@isp.example", "global"))["reason"] == \
        "objection"


async def test_listener_answers_while_every_worker_is_stuck(make_config, sink, start_app,
                                                            sync_redis):
    """One worker, stuck: the SMTP side still accepts (the spool takes responsibility) and
    the queued message is classified by the replacement after the deadline."""
    from consentry.inbound_pool import ClassifyPool

    from ..helpers.slow_classify import MARK, backtracking_classify

    cfg = make_config(sink, inbound={**INBOUND, "parse_timeout": 4, "parse_workers": 1},
                      policy={"require_basis": False},
                      unsubscribe={"mailto_domain": "shop.test"})
    running = await start_app(cfg)
    port = running.app.inbound.ports[0]
    proc = running.app.inbound.processor
    await proc.pool.close()
    proc.pool = ClassifyPool(1, 4.0, target=backtracking_classify)
    await proc.pool.start()
    hostile = (b"From: x@isp.example\r\nTo: antwort@shop.test\r\n" + MARK + b"\r\n"
               b"Subject: Frage\r\n\r\nHallo\r\n")
    plain = (b"From: frage@isp.example\r\nTo: antwort@shop.test\r\nSubject: Frage\r\n\r\n"
             b"Gibt es das Modell auch in Blau?\r\n")
    assert (await send(port, ["antwort@shop.test"], hostile, mail_from="x@isp.example"))[0] \
        == 250
    await wait_until(lambda: proc.active == 1, within=5, what="the hostile message taken")
    for _ in range(3):  # the listener keeps answering while the only worker spins
        code, _, _ = await send(port, ["antwort@shop.test"], plain,
                                mail_from="frage@isp.example")
        assert code == 250
    assert proc.pool.timeouts == 0
    await wait_until(lambda: sum(b"Gibt es das Modell" in r.content for r in sink.received)
                     == 3, within=20, what="the queued replies forwarded after the restart")
    assert proc.pool.timeouts == 1 and proc.pool.restarts == 1
    assert [b"kind=unknown" in r.content for r in sink.received if MARK in r.content] == [True]
    assert sync_redis.keys("cs:supp:*") == []


async def test_idle_is_never_set_while_a_submitted_message_waits_to_start(daemon):
    """`idle` (which the SIGTERM drain and the tests wait on) means every submitted
    message finished. A message the queue has just handed to the run loop, which has not
    yet started it, is neither in the queue nor active: a message finishing in that
    moment must not declare the processor idle (seen as a spooled message left behind
    after `idle`, on a loaded CI host)."""
    proc = daemon.app.inbound.processor
    assert proc.pool.size >= 2  # two messages at a time, or there is no such moment
    seen: list[tuple[str, bool]] = []
    done: list[str] = []

    async def process(mid: str) -> bool:
        if mid == "first":
            proc.submit("second")
            # let the queue hand "second" to the run loop, then finish "first"
            await asyncio.sleep(0)
        done.append(mid)
        return True

    def finished(task_mid: str) -> None:
        seen.append((task_mid, proc.idle.is_set()))

    proc.process = process  # type: ignore[method-assign]
    orig_one = proc._one

    async def one(mid: str, retry_interval: float, slots: asyncio.Semaphore) -> None:
        await orig_one(mid, retry_interval, slots)
        finished(mid)

    proc._one = one  # type: ignore[method-assign]
    proc.submit("first")
    await wait_until(lambda: len(done) == 2, within=10, what="both processed")
    # when "first" finished, "second" had been submitted and had not finished
    assert seen[0] == ("first", False), seen
    assert seen[1] == ("second", True), seen
