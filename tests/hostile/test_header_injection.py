"""Header injection via CR/LF in addresses and tokens (RELIABILITY H3/H4, CWE-93): CR, LF
and their percent-encodings in MAIL FROM, RCPT TO (quoted and escaped), control headers
that feed generated headers (Feedback-ID, List-Unsubscribe), the inbound listener's
verdict headers, and the unsubscribe token in the HTTP path. Nothing an attacker writes
becomes a header field of a relayed or forwarded message, an HTTP response header, or a
second log line."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp

from consentry import headers, rawmsg

from ..helpers.client import message, send
from ..helpers.rawsmtp import RawSMTP, dot_terminated
from ..helpers.state import NO_BASIS
from .conftest import INBOUND, inbound_idle, issue_token, pipelined


def _field_names(content: bytes) -> list[str]:
    return [f.lname for f in rawmsg.parse(content).fields]


def _log_rows(path: Any) -> list[dict[str, Any]]:
    raw = path.read_bytes()
    assert b"\r" not in raw
    return [json.loads(line) for line in raw.decode().split("\n") if line]


async def test_crlf_in_envelope_addresses_never_becomes_a_header(
        make_config: Any, sink: Any, start_app: Any) -> None:
    running = await start_app(make_config(
        sink, policy=NO_BASIS, unsubscribe={"mailto_domain": "bounce.sender.example",
                                            "feedback_id": "{campaign}:{list}:acme"}))
    async with RawSMTP(running.port) as c:
        await c.cmd("EHLO client.test")
        # a literal CR inside the line: refused, never split into a header
        for bad in ('"a\rX-Injected: 1"@sender.example', '"a\\\rX-Injected: 1"@sender.example',
                    "a\rX-Injected=1@sender.example"):
            r = await c.cmd(f"MAIL FROM:<{bad}>".encode())
            assert r.code in (501, 553), (bad, r)
        # percent-encoded CRLF is just text; accepted as the sender, never decoded
        assert (await c.cmd("MAIL FROM:<news%0d%0aX-Injected=1@sender.example>")).code == 250
        for bad in ('"v\rX-Injected: 1"@example.org', '"v\\\rX-Injected: 1"@example.org'):
            r = await c.cmd(f"RCPT TO:<{bad}>".encode())
            assert 500 <= r.code < 600, (bad, r)
        # a CRLF ends the command: the rest is a bogus command, not part of an address
        await c.write(b'RCPT TO:<"v\r\nX-Injected: 1"@example.org>\r\n')
        assert 500 <= (await c.reply()).code < 600
        assert 500 <= (await c.reply()).code < 600
        assert (await c.cmd("RCPT TO:<ok@example.org>")).code == 250
        assert (await c.cmd("DATA")).code == 354
        await c.write(dot_terminated(message(headers={
            "X-Consent-Class": "marketing", "X-Campaign-Id": "c1%0d%0aX-Injected: 1",
            "X-Consent-List": "news"})))
        assert (await c.reply()).code == 250
    (got,) = sink.received
    assert got.rcpts == ["ok@example.org"]
    names = _field_names(got.content)
    assert "x-injected" not in names and "bcc" not in names
    head = got.content.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"(^|\n)[ \t]*X-Injected", head)  # no line of its own, folded or not
    for row in _log_rows(running.log_path):
        assert "\n" not in json.dumps(row)


INJECTED = (b"EHLO client.test\r\nMAIL FROM:<news@sender.example>\r\n"
            b"RCPT TO:<ok@example.org>\nRSET\nMAIL FROM:<ceo@bank.example>\n"
            b"RCPT TO:<victim@example.org>\r\nDATA\r\nSubject: injected\r\n\r\nx\r\n.\r\n"
            b"QUIT\r\n")


async def test_bare_lf_in_a_command_ends_the_session_before_injected_commands_run(
        make_config: Any, sink: Any, start_app: Any) -> None:
    """An address string with LF (``ok@example.org>\\nRSET\\nMAIL FROM:<ceo@…``) would be
    split by aiosmtpd into several commands, the last (CRLF-ended) one executed."""
    running = await start_app(make_config(sink, policy=NO_BASIS))
    codes = await pipelined(running.port, INJECTED)
    assert codes == [220, 250, 250, 500, 221], codes
    assert sink.received == []


async def test_an_over_long_command_ended_by_a_bare_lf_ends_the_session_too(
        make_config: Any, sink: Any, start_app: Any) -> None:
    """Over the reader's line limit the command's head is discarded and its tail read on
    its own; a tail ending in a bare LF is the same split: 500 for the long line, then
    the bare-LF refusal and 221, and the injected commands never run."""
    running = await start_app(make_config(sink, policy=NO_BASIS))
    codes = await pipelined(running.port, (
        b"EHLO client.test\r\nMAIL FROM:<news@sender.example>\r\nRCPT TO:<ok@example.org"
        + b"x" * 3000 + b">\nRCPT TO:<victim@example.org>\r\nDATA\r\nSubject: injected\r\n"
        b"\r\nx\r\n.\r\nQUIT\r\n"))
    assert codes == [220, 250, 250, 500, 500, 221], codes
    assert sink.received == []


async def test_an_over_long_command_ended_by_crlf_keeps_the_session(
        make_config: Any, sink: Any, start_app: Any) -> None:
    """Control: the same long line ended by CRLF (its CR possibly in the discarded head)
    is only answered 500; the session goes on."""
    running = await start_app(make_config(sink, policy=NO_BASIS))
    for n in (3000, 2045, 2046, 2047):  # the CR at and around a read boundary
        codes = await pipelined(running.port, b"EHLO client.test\r\nNOOP " + b"x" * n
                                + b"\r\nNOOP\r\nQUIT\r\n")
        assert codes == [220, 250, 500, 250, 221], (n, codes)


async def test_control_normalize_mode_reads_bare_lf_commands(make_config: Any, sink: Any,
                                                            start_app: Any) -> None:
    """Control: with `bare_newlines: normalize` the same bytes are four commands (the
    tolerant reading), so the test above shows the guard at work."""
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"bare_newlines": "normalize"}))
    codes = await pipelined(running.port, INJECTED)
    assert codes == [220, 250, 250, 250, 250, 250, 250, 354, 250, 221], codes
    assert sink.delivered_to() == ["victim@example.org"]


async def test_folded_control_header_cannot_add_fields_to_generated_headers(
        make_config: Any, sink: Any, start_app: Any) -> None:
    running = await start_app(make_config(
        sink, policy=NO_BASIS, unsubscribe={"mailto_domain": "bounce.sender.example",
                                            "feedback_id": "{campaign}:{list}:acme"}))
    content = (b"From: news@sender.example\r\nSubject: s\r\nMessage-ID: <f@sender.example>\r\n"
               b"X-Consent-Class: marketing\r\n"
               b"X-Campaign-Id: c1\r\n\tX-Injected: 1\r\n"
               b"X-Consent-List: news>, <https://evil.example/u\r\n\r\nbody\r\n")
    code, text, _ = await send(running.port, ["ok@example.org"], content)
    assert code == 250, text
    (got,) = sink.received
    msg = rawmsg.parse(got.content)
    assert "x-injected" not in _field_names(got.content)
    (fid,) = [f.value() for f in msg.fields if f.lname == "feedback-id"]
    assert "\r" not in fid and "\n" not in fid and " " not in fid.strip(), fid
    (lu,) = [f.value() for f in msg.fields if f.lname == "list-unsubscribe"]
    uris = headers.parse_uris(lu)
    assert len(uris) == 2 and not any("evil" in u for u in uris), uris


async def test_inbound_sender_with_cr_does_not_forge_verdict_headers(
        make_config: Any, sink: Any, start_app: Any) -> None:
    running = await start_app(make_config(sink, inbound=INBOUND, policy=NO_BASIS))
    port = running.app.inbound.ports[0]
    async with RawSMTP(port) as c:
        await c.cmd("EHLO mx.isp.example")
        r = await c.cmd(b'MAIL FROM:<"k\rX-Consentry-Verdict: kind=bounce"@isp.example>')
        # bounces come from anywhere: the inbound listener takes any sender
        assert r.code == 250, r
        assert (await c.cmd("RCPT TO:<antwort@shop.test>")).code == 250
        assert (await c.cmd("DATA")).code == 354
        await c.write(dot_terminated(message(subject="Frage", body="Wann kommt es?\n")))
        assert (await c.reply()).code == 250
    await inbound_idle(running)
    assert len(sink.received) == 1  # the human reply, forwarded to the review mailbox
    for got in sink.received:
        verdicts = [f.value() for f in rawmsg.parse(got.content).fields
                    if f.lname == "x-consentry-verdict"]
        assert len(verdicts) == 1 and "kind=bounce" not in verdicts[0], verdicts
        env_from = [f.value() for f in rawmsg.parse(got.content).fields
                    if f.lname == "x-consentry-envelope-from"]
        assert all("\r" not in v for v in env_from)


async def test_crlf_in_the_token_path_injects_no_http_header(make_config: Any, sink: Any,
                                                              start_app: Any,
                                                              sync_redis: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          http={"listen": ["127.0.0.1:0"],
                                                "rate_limit_burst": 1000}))
    base = f"http://127.0.0.1:{running.app.http.ports[0]}"
    tok = await issue_token(running, "a@example.org")
    paths = [f"/u/{tok}%0d%0aSet-Cookie:%20a=b", f"/u/{tok}%0D%0ALocation:%20http://evil",
             "/u/%0d%0aX-Injected:%201", f"/u/{tok[:24]}%0a{tok[24:]}",
             f"/u/{tok}%00", f"/u/{tok}%E2%80%A8"]
    async with aiohttp.ClientSession() as http:
        for p in paths:
            for method in ("GET", "POST"):
                async with http.request(method, base + p, allow_redirects=False,
                                        data={"List-Unsubscribe": "One-Click"}) as resp:
                    assert resp.status in (400, 404), (p, resp.status)
                    names = {k.lower() for k in resp.headers}
                    assert not names & {"set-cookie", "location", "x-injected"}, p
                    assert all("\r" not in v and "\n" not in v for v in resp.headers.values())
    assert not sync_redis.keys("cs:supp:*")
    for row in _log_rows(running.log_path):
        assert "\n" not in json.dumps(row)


async def test_crlf_in_a_mailto_unsubscribe_address_is_refused(
        make_config: Any, sink: Any, start_app: Any, sync_redis: Any) -> None:
    running = await start_app(make_config(sink, inbound=INBOUND, policy=NO_BASIS,
                                          unsubscribe={"mailto_domain": "shop.test"}))
    tok = await issue_token(running, "a@example.org")
    port = running.app.inbound.ports[0]
    async with RawSMTP(port) as c:
        await c.cmd("EHLO mx.isp.example")
        assert (await c.cmd("MAIL FROM:<a@example.org>")).code == 250
        # (a bare LF would end the command line: on the inbound listener, where the peer
        # is an MTA that can send any command anyway, LF-ended commands are tolerated)
        for rcpt in (f"unsubscribe+{tok}%0d%0a@shop.test", f"unsubscribe+{tok}\r@shop.test",
                     f'"unsubscribe+{tok}\rX: y"@shop.test'):
            r = await c.cmd(f"RCPT TO:<{rcpt}>".encode())
            assert 500 <= r.code < 600, (rcpt, r)
        assert (await c.cmd(f"RCPT TO:<unsubscribe+{tok}@shop.test>")).code == 250
