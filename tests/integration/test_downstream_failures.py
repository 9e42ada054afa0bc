"""SPEC §3 failure semantics against a real aiosmtpd downstream told to fail at each stage
(RELIABILITY §1.7 table, D1-D4). Every test asserts both the client's reply and what the
downstream actually received."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis

from ..helpers.burstproxy import BurstProxy
from ..helpers.client import message, send
from ..helpers.rawsmtp import RawSMTP, dot_terminated
from ..helpers.redis_proc import free_port
from ..helpers.state import NO_BASIS, suppress
from ..helpers.waits import wait_until

SENDER = "news@sender.example"


@pytest.fixture(autouse=True, params=["pipelining", "step-by-step"])
def downstream_mode(request, sink):
    """Every failure of the table, against a downstream that announces PIPELINING (the
    relay sends MAIL, RCPTs and DATA in one write) and one that does not."""
    sink.control.pipelining = request.param == "pipelining"
    return request.param


async def test_rcpt_4xx_with_354_anyway_drops_the_connection_and_delivers_nothing(
        make_config, sink, start_app, downstream_mode):
    """One transaction for all recipients (a transactional message: no per-recipient
    copies). The downstream takes a and c, answers 450 for b and then, having accepted
    some recipients, 354 to the pipelined DATA: the relay must not send the content to a
    and c alone. It drops the connection instead (no final dot: nothing delivered), the
    client gets 451, and its retry delivers once to all three."""
    running = await start_app(make_config(sink, policy=NO_BASIS))
    rcpts = ["a@example.org", "b@example.org", "c@example.org"]
    sink.control.rcpt_replies["b@example.org"] = "450 4.2.1 mailbox busy, try later"
    content = message(headers={"X-Consent-Class": "transactional"})
    code, text, _ = await send(running.port, rcpts, content)
    assert code == 451, text
    assert sink.received == []
    sink.control.rcpt_replies.clear()
    code, text, _ = await send(running.port, rcpts, content)
    assert code == 250, text
    assert [sorted(m.rcpts) for m in sink.received] == [rcpts]


async def test_pipelined_transaction_is_two_round_trips_whatever_the_recipients(
        make_config, sink, start_app, downstream_mode):
    """RFC 2920 at the downstream: MAIL + 10 RCPT + DATA in one write, the content in a
    second; step by step it is one write per command."""
    proxy = BurstProxy(sink.port)
    await proxy.start()
    try:
        running = await start_app(make_config(
            None, policy=NO_BASIS, downstream={"host": "127.0.0.1", "port": proxy.port}))
        rcpts = [f"r{i}@example.org" for i in range(10)]
        await send(running.port, ["warm@example.org"],
                   message(headers={"X-Consent-Class": "transactional"}))
        before = len(proxy.bursts)
        code, text, _ = await send(running.port, rcpts,
                                   message(headers={"X-Consent-Class": "transactional"}))
        assert code == 250, text
        bursts = [bytes(b) for b in proxy.bursts[before:]]
    finally:
        await proxy.stop()
    assert [sorted(m.rcpts) for m in sink.received[1:]] == [sorted(rcpts)]
    if downstream_mode == "pipelining":
        assert len(bursts) == 2, bursts
        assert bursts[0].startswith(b"MAIL FROM:") and bursts[0].count(b"RCPT TO:") == 10
        assert bursts[0].endswith(b"DATA\r\n")
        assert bursts[1].endswith(b"\r\n.\r\n")
    else:
        assert len(bursts) == 10 + 3, [b[:30] for b in bursts]


async def test_250_only_after_downstream_accepted_and_carries_its_queue_id(
        make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    sink.control.data_delay = 0.3
    async with RawSMTP(running.port) as c:
        assert (await c.cmd("EHLO client.test")).code == 250
        assert (await c.cmd(f"MAIL FROM:<{SENDER}>")).code == 250
        assert (await c.cmd("RCPT TO:<a@example.org>")).code == 250
        assert (await c.cmd("DATA")).code == 354
        final = await c.cmd(dot_terminated(message()).removesuffix(b"\r\n"))
        # The sink records the message before it answers 250: when our 250 arrives the
        # downstream has already accepted, and its queue id is in our reply.
        delivered_when_replied = len(sink.received)
    assert final.code == 250, final
    assert delivered_when_replied == 1
    assert "queued as Q00001" in final.text
    assert sink.delivered_to() == ["a@example.org"]


async def test_downstream_port_closed_gives_4xx_and_nothing_delivered(make_config, start_app,
                                                                     sink):
    cfg = make_config(None, policy=NO_BASIS,
                      downstream={"host": "127.0.0.1", "port": free_port(),
                                  "connect_timeout": 2})
    running = await start_app(cfg)
    code, text, _ = await send(running.port, ["a@example.org"], message())
    assert 400 <= code < 500, text
    assert text.startswith("4.4.1")
    assert sink.received == []
    (row,) = running.decisions()
    assert row["downstream"].startswith("tempfail")
    assert running.app.relay is not None
    assert running.app.relay.counters.tempfail_downstream == 1


async def test_downstream_421_greeting_gives_4xx(make_config, sink, start_app):
    sink.control.greeting_421 = True
    running = await start_app(make_config(sink, policy=NO_BASIS))
    code, text, _ = await send(running.port, ["a@example.org"], message())
    assert code == 451, text
    assert sink.received == []


async def test_downstream_4xx_on_mail_gives_4xx(make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    sink.control.mail_reply = "452 4.3.1 insufficient system storage"
    code, text, _ = await send(running.port, ["a@example.org"], message())
    assert code == 451, text
    assert sink.received == []


async def test_downstream_5xx_on_mail_gives_5xx(make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    sink.control.mail_reply = "553 5.7.1 sender rejected"
    code, text, _ = await send(running.port, ["a@example.org"], message())
    assert 500 <= code < 600, text
    assert sink.received == []


async def test_one_of_three_rcpts_4xx_tempfails_whole_message_then_retry_delivers_once(
        make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    rcpts = ["a@example.org", "b@example.org", "c@example.org"]
    sink.control.rcpt_replies["b@example.org"] = "450 4.2.1 mailbox busy, try later"
    rsets_before = sink.handler.rsets
    code, text, _ = await send(running.port, rcpts, message())
    assert code == 451, text
    assert sink.received == []  # a and c were NOT delivered on their own
    assert sink.handler.rsets > rsets_before  # the downstream transaction was reset
    # The client retries after the fault clears: exactly one delivery to each of the three
    # (marketing goes out as one copy per recipient, each with its own unsubscribe token).
    sink.control.rcpt_replies.clear()
    code, text, _ = await send(running.port, rcpts, message())
    assert code == 250, text
    assert len(sink.received) == 3 and all(len(m.rcpts) == 1 for m in sink.received)
    assert sorted(sink.delivered_to()) == rcpts


async def test_some_rcpts_5xx_rest_delivered_refusals_recorded_and_dsn_sent(
        make_config, sink, start_app, sync_redis):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    sink.control.rcpt_replies.update({
        "dead@example.org": "550 5.1.1 no such user",
        "policy@example.org": "550 5.7.1 rejected by local policy",
    })
    code, text, _ = await send(running.port,
                               ["dead@example.org", "ok@example.org", "policy@example.org"],
                               message(msgid="<partial-1@sender.example>"))
    assert code == 250, text
    assert "1 of 3" in text
    # the DSN (from <>, below) is queued before the 250 and may be at the sink already
    assert [m.rcpts for m in sink.received if m.mail_from not in ("", "<>")] == [
        ["ok@example.org"]]
    # Recorded as bounces (durably, before the 250) ...
    rows = [fields for _id, fields in sync_redis.xrange("cs:bounces")]
    assert {(r["address"], r["code"]) for r in rows} == {
        ("dead@example.org", "550"), ("policy@example.org", "550")}
    # ... a dead mailbox becomes a hard_bounce suppression, a policy refusal does not.
    dead = sync_redis.hgetall("cs:supp:dead@example.org")
    assert json.loads(dead["global"])["reason"] == "hard_bounce"
    assert sync_redis.exists("cs:supp:policy@example.org") == 0
    # ... and the DsnWorker delivers a multipart/report from <> to the envelope sender.
    await wait_until(lambda: len(sink.received) == 2, within=10, what="the DSN")
    (dsn,) = [m for m in sink.received if m.mail_from in ("", "<>")]
    assert dsn.rcpts == [SENDER]
    assert b"multipart/report" in dsn.content
    assert b"report-type=\"delivery-status\"" in dsn.content
    assert b"Final-Recipient: rfc822; dead@example.org" in dsn.content
    assert b"Final-Recipient: rfc822; policy@example.org" in dsn.content
    assert b"ok@example.org" not in dsn.content.split(b"\r\n\r\n", 1)[1]
    await wait_until(lambda: sync_redis.llen("cs:dsn:processing") == 0, within=5,
                     what="the DSN job to finish")
    assert sync_redis.llen("cs:dsn:queue") == 0


async def test_hard_bounce_recorded_at_rcpt_stops_the_next_message(make_config, sink,
                                                                    start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    sink.control.rcpt_replies["dead@example.org"] = "550 5.1.1 no such user"
    code, _, _ = await send(running.port, ["dead@example.org", "ok@example.org"], message())
    assert code == 250
    sink.control.rcpt_replies.clear()
    code, text, _ = await send(running.port, ["dead@example.org", "ok@example.org"],
                               message(msgid="<second@sender.example>",
                                       headers={"X-Consent-Class": "transactional"}))
    assert code == 250, text
    # Even transactional mail no longer goes to a hard-bounced mailbox (SPEC §1.4).
    assert sink.received[-1].rcpts == ["ok@example.org"]
    row = [d for d in running.decisions() if d["recipient"] == "dead@example.org"][-1]
    assert (row["verdict"], row["rule"]) == ("suppress", "hard_bounce")


async def test_all_rcpts_5xx_gives_5xx_to_client(make_config, sink, start_app, sync_redis):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    sink.control.rcpt_replies.update({"x@example.org": "550 5.1.1 no such user",
                                      "y@example.org": "554 5.7.1 no thanks"})
    code, text, _ = await send(running.port, ["x@example.org", "y@example.org"], message())
    assert 500 <= code < 600, text
    assert sink.received == []
    assert sync_redis.xlen("cs:bounces") == 2
    # The client got a 5xx and keeps responsibility: we owe no DSN.
    assert sync_redis.llen("cs:dsn:queue") == 0


async def test_downstream_data_451_gives_4xx(make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    sink.control.data_reply = "451 4.3.0 queue file write error"
    code, text, _ = await send(running.port, ["a@example.org"], message())
    assert code == 451, text
    assert sink.received == []


async def test_downstream_data_554_gives_5xx(make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    sink.control.data_reply = "554 5.6.0 content rejected"
    code, text, _ = await send(running.port, ["a@example.org"], message())
    assert code == 554, text
    assert sink.received == []


async def test_downstream_drop_after_final_dot_gives_451_counted_ambiguous(
        make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    sink.control.drop_after_dot = True
    code, text, _ = await send(running.port, ["a@example.org"], message())
    assert code == 451, text  # never 250: we do not know whether it was delivered
    assert text.startswith("4.4.2")
    assert running.app.relay is not None
    assert running.app.relay.counters.ambiguous == 1
    # The next message gets a fresh downstream connection and goes through.
    sink.control.drop_after_dot = False
    code, text, _ = await send(running.port, ["a@example.org"], message())
    assert code == 250, text


async def test_all_recipients_suppressed_gives_250_nothing_relayed_decisions_logged(
        make_config, sink, start_app, sync_redis):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    suppress(sync_redis, "x@example.org")
    suppress(sync_redis, "y@example.org", reason="complaint")
    sessions_before = sink.handler.sessions
    code, text, _ = await send(running.port, ["x@example.org", "y@example.org"], message())
    assert code == 250, text
    assert "0 of 2" in text
    assert sink.received == []
    assert sink.handler.sessions == sessions_before  # no downstream transaction at all
    rows = {d["recipient"]: d for d in running.decisions()}
    assert set(rows) == {"x@example.org", "y@example.org"}
    assert {r["verdict"] for r in rows.values()} == {"suppress"}
    assert {r["rule"] for r in rows.values()} == {"objection"}


BROKEN = {
    "no header section": b"this line is not a header field\r\n\r\nbody\r\n",
    "broken header line": b"Subject: hi\r\nnot a header\r\n\r\nbody\r\n",
    "NUL byte": b"Subject: hi\r\n\r\nbody with a \x00 NUL\r\n",
    "starts with continuation": b" folded: x\r\nSubject: hi\r\n\r\nbody\r\n",
}


async def test_malformed_messages_get_5xx_and_daemon_serves_the_next(make_config, sink,
                                                                     start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    async with RawSMTP(running.port) as c:
        assert (await c.cmd("EHLO client.test")).code == 250
        for name, content in BROKEN.items():
            assert (await c.cmd(f"MAIL FROM:<{SENDER}>")).code == 250
            assert (await c.cmd("RCPT TO:<a@example.org>")).code == 250
            assert (await c.cmd("DATA")).code == 354
            final = await c.cmd(dot_terminated(content).removesuffix(b"\r\n"))
            assert final.code == 550, (name, final)
            assert final.text.startswith("5.6.0"), (name, final)
        # Same session, a good message: still served.
        assert (await c.cmd(f"MAIL FROM:<{SENDER}>")).code == 250
        assert (await c.cmd("RCPT TO:<a@example.org>")).code == 250
        assert (await c.cmd("DATA")).code == 354
        final = await c.cmd(dot_terminated(message()).removesuffix(b"\r\n"))
        assert final.code == 250, final
    # And another client too.
    code, _, _ = await send(running.port, ["b@example.org"], message())
    assert code == 250
    assert len(sink.received) == 2
    assert running.app.relay is not None
    assert running.app.relay.counters.malformed == len(BROKEN)


async def _client_gone_after_dot(running, sink, how: str) -> None:
    sink.control.data_delay = 0.5  # downstream still busy when the client vanishes
    c = await RawSMTP(running.port).connect()
    try:
        await c.cmd("EHLO client.test")
        await c.cmd(f"MAIL FROM:<{SENDER}>")
        await c.cmd("RCPT TO:<a@example.org>")
        await c.cmd("DATA")
        await c.write(dot_terminated(message(msgid="<gone@sender.example>")))
        relay = running.app.relay
        await wait_until(lambda: relay.inflight, within=5, what="the message in flight")
        assert c.writer is not None
        if how == "reset":
            c.writer.transport.abort()
        elif how == "half-close":
            c.writer.write_eof()
        else:
            c.writer.close()
    finally:
        await c.close()


async def test_client_disconnect_after_final_dot_does_not_cancel_downstream(
        make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    for how in ("close", "reset", "half-close"):
        before = len(sink.received)
        await _client_gone_after_dot(running, sink, how)
        await wait_until(lambda b=before: len(sink.received) == b + 1, within=10,
                         what=f"delivery after client {how}")
        await wait_until(lambda: not running.app.relay.inflight, within=10,
                         what="transaction end")
        await asyncio.sleep(0.2)
        assert len(sink.received) == before + 1, how  # once, not twice
    rows = running.decisions()
    assert len(rows) == 3
    assert all(r["downstream"].startswith("250") for r in rows), rows


async def test_null_sender_is_accepted_relayed_as_null_and_owed_no_dsn(
        make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    sink.control.rcpt_replies["dead@example.org"] = "550 5.1.1 no such user"
    code, text, _ = await send(running.port, ["dead@example.org", "ok@example.org"],
                               message(), mail_from="")
    assert code == 250, text
    (got,) = sink.received
    assert got.mail_from in ("", "<>")
    r = redis.Redis.from_url(running.app.cfg.redis.url, decode_responses=True)
    try:
        assert r.xlen("cs:bounces") == 1
        assert r.llen("cs:dsn:queue") == 0  # never a DSN to the null reverse-path
    finally:
        r.close()


async def test_downstream_slow_final_reply_gives_451_before_the_client_times_out(
        make_config, sink, start_app):
    """D5: the final-dot reply takes longer than downstream.data_timeout: the client hears
    451 (ambiguous: the downstream may still accept) well before its own timeout."""
    cfg = make_config(sink, policy=NO_BASIS,
                      downstream={"host": "127.0.0.1", "port": sink.port, "data_timeout": 1,
                                  "command_timeout": 5})
    running = await start_app(cfg)
    sink.control.data_delay = 8.0
    t0 = asyncio.get_running_loop().time()
    code, text, _ = await send(running.port, ["a@example.org"], message())
    elapsed = asyncio.get_running_loop().time() - t0
    assert code == 451, text
    assert elapsed < 6, elapsed  # generous: data_timeout is 1 s, the downstream takes 8
    assert running.app.relay is not None
    assert running.app.relay.counters.ambiguous == 1


async def test_downstream_that_never_greets_gives_451_within_connect_timeout(
        make_config, start_app):
    accepted: list[asyncio.StreamWriter] = []

    async def mute(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.append(w)  # accept the TCP connection, never say 220

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        cfg = make_config(None, policy=NO_BASIS,
                          downstream={"host": "127.0.0.1", "port": port,
                                      "connect_timeout": 1})
        running = await start_app(cfg)
        t0 = asyncio.get_running_loop().time()
        code, text, _ = await send(running.port, ["a@example.org"], message())
        elapsed = asyncio.get_running_loop().time() - t0
        assert code == 451, text
        assert elapsed < 4, elapsed
        assert accepted  # it really connected and waited for the greeting
    finally:
        for w in accepted:
            w.close()
        server.close()
        await server.wait_closed()
