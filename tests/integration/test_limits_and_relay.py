"""Limits and relay control (RELIABILITY §2, H3/H5-H7/H11): SIZE, message size, recipient
cap, line length, never an open relay, hostile addresses answered with 5xx (not a crash),
and the per-IP connection cap."""

from __future__ import annotations

import json

import pytest

from ..helpers.client import message
from ..helpers.rawsmtp import RawSMTP, dot_terminated
from ..helpers.state import NO_BASIS

SENDER = "news@sender.example"


async def _begin(c: RawSMTP, rcpts: list[str]) -> list[int]:
    assert (await c.cmd("EHLO client.test")).code == 250
    assert (await c.cmd(f"MAIL FROM:<{SENDER}>")).code == 250
    return [(await c.cmd(f"RCPT TO:<{r}>")).code for r in rcpts]


async def _data(c: RawSMTP, content: bytes) -> int:
    assert (await c.cmd("DATA")).code == 354
    return (await c.cmd(dot_terminated(content).removesuffix(b"\r\n"))).code


async def test_size_is_advertised(make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"max_message_size": 123456}))
    async with RawSMTP(running.port) as c:
        ehlo = await c.cmd("EHLO client.test")
    assert "SIZE 123456" in ehlo.lines
    assert "PIPELINING" in ehlo.lines and "8BITMIME" in ehlo.lines


async def test_message_over_max_size_gets_552_and_nothing_relayed(make_config, sink,
                                                                  start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"max_message_size": 10_000}))
    big = message(body="x" * 70 + "\n") + (b"y" * 70 + b"\r\n") * 300
    async with RawSMTP(running.port) as c:
        await _begin(c, ["a@example.org"])
        assert await _data(c, big) == 552
        # declared too big up front
        await c.cmd("RSET")
        assert (await c.cmd(f"MAIL FROM:<{SENDER}> SIZE=50000")).code == 552
        # the session is still usable for a message within the limit
        assert (await c.cmd(f"MAIL FROM:<{SENDER}> SIZE=2000")).code == 250
        assert (await c.cmd("RCPT TO:<a@example.org>")).code == 250
        assert await _data(c, message()) == 250
    assert len(sink.received) == 1


async def test_recipients_over_cap_get_452_and_session_stays_usable(make_config, sink,
                                                                   start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"max_recipients": 3}))
    rcpts = [f"r{i}@example.org" for i in range(5)]
    async with RawSMTP(running.port) as c:
        codes = await _begin(c, rcpts)
        assert codes == [250, 250, 250, 452, 452]
        assert await _data(c, message()) == 250
        # next transaction on the same session
        assert (await c.cmd(f"MAIL FROM:<{SENDER}>")).code == 250
        assert (await c.cmd("RCPT TO:<r9@example.org>")).code == 250
        assert await _data(c, message()) == 250
    assert sorted(sink.delivered_to()) == sorted([*rcpts[:3], "r9@example.org"])


async def test_line_over_1001_octets_gets_500(make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    long_line = b"Subject: hi\r\n\r\n" + b"z" * 1000 + b"\r\nend\r\n"  # 1002 octets w/ CRLF
    ok_line = b"Subject: hi\r\n\r\n" + b"z" * 999 + b"\r\nend\r\n"  # 1001 octets
    async with RawSMTP(running.port) as c:
        await _begin(c, ["a@example.org"])
        assert await _data(c, long_line) == 500
        assert (await c.cmd(f"MAIL FROM:<{SENDER}>")).code == 250
        assert (await c.cmd("RCPT TO:<a@example.org>")).code == 250
        assert await _data(c, ok_line) == 250
    assert len(sink.received) == 1


async def test_configured_longer_line_limit_is_honoured(make_config, start_app, tmp_path):
    # Outbox downstream: the aiosmtpd sink itself refuses lines over 1001 octets.
    running = await start_app(make_config(None, policy=NO_BASIS,
                                          submission={"line_length_limit": 2048}))
    content = b"Subject: hi\r\n\r\n" + b"z" * 1500 + b"\r\n"
    async with RawSMTP(running.port) as c:
        await _begin(c, ["a@example.org"])
        assert await _data(c, content) == 250
        assert (await c.cmd(f"MAIL FROM:<{SENDER}>")).code == 250
        assert (await c.cmd("RCPT TO:<a@example.org>")).code == 250
        assert await _data(c, b"Subject: hi\r\n\r\n" + b"z" * 2100 + b"\r\n") == 500
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    assert b"z" * 1500 + b"\r\n" in eml.read_bytes()


async def test_client_outside_client_networks_gets_550_5_7_1_at_rcpt(make_config, sink,
                                                                     start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"client_networks": ["127.0.0.1/32"]}))
    async with RawSMTP(running.port, source="127.0.0.2") as c:
        codes = await _begin(c, ["a@example.org"])
        rcpt = await c.cmd("RCPT TO:<b@example.org>")
    assert codes == [550]
    assert rcpt.code == 550 and rcpt.text.startswith("5.7.1"), rcpt
    # the allowed address relays
    async with RawSMTP(running.port, source="127.0.0.1") as c:
        assert await _begin(c, ["a@example.org"]) == [250]
        assert await _data(c, message()) == 250
    assert sink.delivered_to() == ["a@example.org"]


RELAY_HACKS = [
    "a%b.example@relay.example",
    "a%b.example@[127.0.0.1]",
    "b.example!a@relay.example",
    "@relay.example:a@b.example",
    "@x.example,@y.example:a@b.example",
    '"a@b.example"@relay.example',
    '"a%b.example"@relay.example',
    '"b.example!a"@relay.example',
]


@pytest.mark.parametrize("rcpt", RELAY_HACKS)
async def test_relay_hack_forms_get_550_5_7_1(rcpt, make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    async with RawSMTP(running.port) as c:
        (code,) = await _begin(c, [rcpt])
        reply = c  # keep the session to prove it is still alive
        assert (await reply.cmd("NOOP")).code == 250
    assert code == 550, rcpt
    assert sink.received == []


HOSTILE_ADDRESSES = [
    "a\x01b@example.org",
    "a\x7fb@example.org",
    "a\x1b[2Jb@example.org",
    "x" * 65 + "@example.org",  # local part over 64 octets
    "a@" + ".".join(["d" * 60] * 5) + ".org",  # domain over 255 octets
    "a@-bad-.example",
    "a@exa mple.org",
    "",
]


@pytest.mark.parametrize("rcpt", HOSTILE_ADDRESSES, ids=range(len(HOSTILE_ADDRESSES)))
async def test_hostile_address_gets_5xx_not_a_crash(rcpt, make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    async with RawSMTP(running.port) as c:
        (code,) = await _begin(c, [rcpt])
        assert 500 <= code < 600, (rcpt, code)
        mail = await c.cmd(b"MAIL FROM:<" + rcpt.encode() + b">")
        assert mail.code >= 500 or mail.code == 503, mail  # 503: nested MAIL
        # the session still works
        await c.cmd("RSET")
        assert (await c.cmd(f"MAIL FROM:<{SENDER}>")).code == 250
        assert (await c.cmd("RCPT TO:<ok@example.org>")).code == 250
        assert await _data(c, message()) == 250
    assert sink.delivered_to() == ["ok@example.org"]


async def test_invalid_utf8_address_gets_5xx(make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    async with RawSMTP(running.port) as c:
        await _begin(c, [])
        r = await c.cmd(b"RCPT TO:<caf\xe9@example.org>")
        assert 500 <= r.code < 600, r
        assert "Error: (" not in r.text  # no Python exception text leaked to the client
        assert (await c.cmd("NOOP")).code == 250


async def test_over_long_command_line_gets_500(make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    async with RawSMTP(running.port) as c:
        await _begin(c, [])
        r = await c.cmd("RCPT TO:<" + "a" * 600 + "@example.org>")
        assert r.code == 500, r
        assert (await c.cmd("NOOP")).code == 250


async def test_third_connection_from_one_ip_gets_421(make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"max_connections_per_ip": 2}))
    a = await RawSMTP(running.port).connect()
    b = await RawSMTP(running.port).connect()
    try:
        assert a.greeting is not None and a.greeting.code == 220
        assert b.greeting is not None and b.greeting.code == 220
        c = await RawSMTP(running.port).connect()
        try:
            assert c.greeting is not None and c.greeting.code == 421, c.greeting
            assert await c.closed_by_server()
        finally:
            await c.close()
        # a different source address is not affected
        d = await RawSMTP(running.port, source="127.0.0.3").connect()
        try:
            assert d.greeting is not None and d.greeting.code == 220
        finally:
            await d.close()
    finally:
        await a.close()
    # the slot is released when a session ends
    for _ in range(50):
        e = await RawSMTP(running.port).connect()
        try:
            assert e.greeting is not None
            if e.greeting.code == 220:
                break
        finally:
            await e.close()
    else:
        raise AssertionError("slot never released")
    await b.close()


async def test_hostile_values_give_one_clean_json_record_per_event(make_config, sink,
                                                                   start_app):
    """H15: attacker-chosen strings (Message-ID with ESC sequences, a quoted local part,
    a 10 kB EHLO) never break the decision log: every line is one JSON object and no raw
    control byte reaches the file."""
    running = await start_app(make_config(sink, policy=NO_BASIS))
    evil_mid = "<\x1b[2J\x1b]0;pwned\x07" + "m" * 900 + "@x>"
    content = (f"Subject: hi\r\nMessage-ID: {evil_mid}\r\n\r\nbody\r\n").encode()
    async with RawSMTP(running.port) as c:
        assert (await c.cmd("EHLO " + "h" * 10_000)).code == 500
        assert (await c.cmd("EHLO client.test")).code == 250
        assert (await c.cmd('MAIL FROM:<"evil\\"}{\\"x"@sender.example>')).code == 250
        assert (await c.cmd('RCPT TO:<"a\\"b c"@example.org>')).code == 250
        assert await _data(c, content) == 250
    raw = running.log_path.read_bytes()
    assert b"\x1b" not in raw and b"\x07" not in raw
    lines = raw.decode("utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # every line parses
    (d,) = [r for r in records if r.get("event") == "decision"]
    assert d["mail_from"] == '"evil\\"}{\\"x"@sender.example'
    assert "\x1b" in d["message_id"]  # kept, but escaped in the file


async def test_total_connection_cap_gives_421(make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"max_connections": 2}))
    a = await RawSMTP(running.port, source="127.0.0.2").connect()
    b = await RawSMTP(running.port, source="127.0.0.3").connect()
    try:
        c = await RawSMTP(running.port, source="127.0.0.4").connect()
        try:
            assert c.greeting is not None and c.greeting.code == 421, c.greeting
        finally:
            await c.close()
    finally:
        await a.close()
        await b.close()


async def test_noop_loop_is_cut_off_with_421(make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    async with RawSMTP(running.port) as c:
        codes = [(await c.cmd("NOOP")).code for _ in range(20)]
        assert codes == [250] * 20
        assert (await c.cmd("NOOP")).code == 421
        assert await c.closed_by_server()


async def test_duplicate_rcpt_is_delivered_once(make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    async with RawSMTP(running.port) as c:
        codes = await _begin(c, ["a@example.org", "A@Example.ORG", "a@example.org"])
        assert codes == [250, 250, 250]
        assert await _data(c, message()) == 250
    assert sink.delivered_to() == ["a@example.org"]


async def test_non_ascii_rcpt_without_smtputf8_is_refused_at_rcpt(make_config, sink,
                                                                   start_app, sync_redis):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    async with RawSMTP(running.port) as c:
        assert (await c.cmd("EHLO client.test")).code == 250
        assert (await c.cmd(f"MAIL FROM:<{SENDER}>")).code == 250
        r = await c.cmd("RCPT TO:<jürgen@bücher.de>")
        assert r.code == 553 and r.text.startswith("5.6.7"), r
        assert (await c.cmd("RCPT TO:<ok@example.org>")).code == 250
        assert await _data(c, message()) == 250
    assert sink.delivered_to() == ["ok@example.org"]
    assert sync_redis.xlen("cs:bounces") == 0  # no bogus "downstream refusal" recorded


async def test_non_ascii_rcpt_with_smtputf8_is_relayed_with_smtputf8(make_config, sink,
                                                                    start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    async with RawSMTP(running.port) as c:
        assert (await c.cmd("EHLO client.test")).code == 250
        assert (await c.cmd(f"MAIL FROM:<{SENDER}> SMTPUTF8")).code == 250
        assert (await c.cmd("RCPT TO:<jürgen@bücher.de>")).code == 250
        assert await _data(c, message()) == 250
    assert sink.delivered_to() == ["jürgen@bücher.de"]


async def test_non_ascii_sender_without_smtputf8_is_refused_at_mail(make_config, sink,
                                                                     start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    async with RawSMTP(running.port) as c:
        assert (await c.cmd("EHLO client.test")).code == 250
        r = await c.cmd("MAIL FROM:<jürgen@bücher.de>")
        assert r.code == 553 and r.text.startswith("5.6.7"), r
        assert (await c.cmd("MAIL FROM:<jürgen@bücher.de> SMTPUTF8")).code == 250
        assert (await c.cmd("RCPT TO:<ok@example.org>")).code == 250
        assert await _data(c, message()) == 250
    (got,) = sink.received
    assert got.mail_from == "jürgen@bücher.de"


async def test_a_path_that_crashes_the_address_parser_gets_553_not_451(make_config, sink,
                                                                        start_app):
    """`MAIL FROM:9@` made the stdlib header parser under aiosmtpd raise IndexError:
    answered 451 (retry for ever) with an error logged. It is a malformed address: 553."""
    running = await start_app(make_config(sink, policy=NO_BASIS))
    async with RawSMTP(running.port) as c:
        assert (await c.cmd("EHLO client.test")).code == 250
        r = await c.cmd("MAIL FROM:9@")
        assert r.code == 553 and "malformed" in r.text, r
        assert (await c.cmd("MAIL FROM:<news@sender.example>")).code == 250
        r = await c.cmd("RCPT TO:9@")
        assert r.code == 553 and "malformed" in r.text, r
        assert (await c.cmd("RCPT TO:<a@example.org>")).code == 250
    assert "smtp_handler_error" not in running.log_path.read_text()
