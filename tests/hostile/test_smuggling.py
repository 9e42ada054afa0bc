"""SMTP smuggling (RELIABILITY H1) against BOTH listeners: every published end-of-data
variant (hannob/smtpsmug's list, SEC Consult's Sendmail/Exim forms, NUL forms) followed
by a complete second transaction in the same write. The second transaction must stay
content: never a second message at the sink (submission), never a second inbound message
spooled or processed (inbound), and what the inbound listener forwards to the review
mailbox carries no bare CR/LF that could end the message early at the downstream."""

from __future__ import annotations

from typing import Any

import pytest

from consentry.rawmsg import find_bare_newlines

from ..helpers.state import NO_BASIS
from .conftest import inbound_idle, pipelined, spooled

# Every end-of-data spelling the smtpsmug and SMTP-Smuggling-Tools scanners try.
BAD_ENDS = {
    "lf.lf": b"\n.\n",
    "cr.cr": b"\r.\r",
    "cr.lf": b"\r.\n",
    "lf.cr": b"\n.\r",
    "lf.crlf": b"\n.\r\n",
    "crlf.lf": b"\r\n.\n",
    "cr.crlf": b"\r.\r\n",
    "crlf.cr": b"\r\n.\r",
    "crlf-nul.crlf": b"\r\n\x00.\r\n",
    "crlf.nul-crlf": b"\r\n.\x00\r\n",
    "lf-lf.crlf": b"\n\n.\r\n",
    "crlf.sp-crlf": b"\r\n. \r\n",
    "crlf.crcrlf": b"\r\n.\r\r\n",
    "lf.lf-crlf": b"\n.\n\r\n",
}


def _session(rcpt: str, second_rcpt: str, bad_end: bytes, sender: str) -> bytes:
    head = (f"From: {sender}\r\nTo: {rcpt}\r\nSubject: first\r\n"
            f"Message-ID: <smug@sender.example>\r\n\r\nThis is the first message.").encode()
    smuggled = (f"MAIL FROM:<ceo@victim.example>\r\nRCPT TO:<{second_rcpt}>\r\nDATA\r\n"
                f"From: ceo@victim.example\r\nSubject: smuggled\r\n\r\nsmuggled body\r\n"
                ).encode()
    return (f"EHLO client.test\r\nMAIL FROM:<{sender}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n"
            ).encode() + head + bad_end + smuggled + b".\r\nQUIT\r\n"


@pytest.mark.parametrize("mode", ["reject", "normalize"])
@pytest.mark.parametrize("name", list(BAD_ENDS))
async def test_submission_never_relays_a_second_message(name: str, mode: str,
                                                        make_config: Any, sink: Any,
                                                        start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"bare_newlines": mode}))
    codes = await pipelined(running.port, _session("victim@example.org",
                                                   "smuggled@example.org",
                                                   BAD_ENDS[name], "news@sender.example"))
    # greeting, EHLO, MAIL, RCPT, 354, exactly ONE final reply, QUIT's 221
    assert len(codes) == 7 and codes[:5] == [220, 250, 250, 250, 354] and codes[6] == 221, codes
    bare = find_bare_newlines(BAD_ENDS[name]) > 0
    # 550: a NUL anywhere, or a bare CR/LF in reject mode; otherwise one clean message
    expected = 550 if b"\x00" in BAD_ENDS[name] or (mode == "reject" and bare) else 250
    assert codes[5] == expected, codes
    assert len(sink.received) <= 1
    assert "smuggled@example.org" not in sink.delivered_to()
    for got in sink.received:
        assert find_bare_newlines(got.content) == 0  # nothing the downstream could misread
        assert b"\x00" not in got.content
        assert b"smuggled body" in got.content.split(b"\r\n\r\n", 1)[1]
    assert len(sink.received) == (1 if expected == 250 else 0)


@pytest.mark.parametrize("name", list(BAD_ENDS))
async def test_inbound_never_processes_a_second_message(name: str, inbound_daemon: Any,
                                                        sink: Any, sync_redis: Any) -> None:
    running = inbound_daemon
    codes = await pipelined(running.inbound_port, _session(
        "antwort@shop.test", "antwort@shop.test", BAD_ENDS[name], "kunde@isp.example"))
    assert len(codes) == 7 and codes[:5] == [220, 250, 250, 250, 354] and codes[6] == 221, codes
    await inbound_idle(running)
    # the inbound listener takes what MTAs send (bare LF included): one message, not two
    assert codes[5] == 250, codes
    assert sync_redis.xlen("cs:inbound") == 1
    assert spooled(running) == []  # processed and removed, nothing half-done
    assert len(sink.received) <= 1  # at most the one forward to the review mailbox
    for got in sink.received:
        assert got.rcpts == ["review@shop.test"]
        assert find_bare_newlines(got.content) == 0
        assert b"smuggled body" in got.content
        assert got.content.count(b"\r\nSubject: smuggled") <= 1  # inside the body only


async def test_inbound_control_pipelined_second_message_is_two(inbound_daemon: Any,
                                                               sync_redis: Any) -> None:
    """Control: a genuine CRLF.CRLF followed by the second transaction IS two messages,
    so the counts above would see a smuggled one."""
    running = inbound_daemon
    codes = await pipelined(running.inbound_port, _session(
        "antwort@shop.test", "antwort@shop.test", b"\r\n.\r\n", "kunde@isp.example"))
    assert codes == [220, 250, 250, 250, 354, 250, 250, 250, 354, 250, 221], codes
    await inbound_idle(running)
    assert sync_redis.xlen("cs:inbound") == 2
