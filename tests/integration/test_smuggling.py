"""SMTP smuggling (RELIABILITY §2, H1): the smtpsmug end-of-data variants, each followed
by a complete second transaction. Never a second message downstream; in the default
`bare_newlines: reject` a 550 5.6.0; in `normalize` exactly one message, without any bare
CR or LF, reaches the downstream."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from consentry.rawmsg import find_bare_newlines

from ..helpers.rawsmtp import RawSMTP
from ..helpers.state import NO_BASIS

# hannob/smtpsmug's list (plus the Sendmail/Exim variants of SEC Consult's research).
BAD_ENDS = {
    "lflf": b"\n.\n",
    "crcr": b"\r.\r",
    "crlf": b"\r.\n",
    "lfcr": b"\n.\r",
    "lfcrlf": b"\n.\r\n",
    "crlflf": b"\r\n.\n",
    "crcrlf": b"\r.\r\n",
    "crlfcr": b"\r\n.\r",
    "nullbefore": b"\r\n\x00.\r\n",
    "nullafter": b"\r\n.\x00\r\n",
    "lf-lfcrlf": b"\n\n.\r\n",
}
HAS_NUL = {"nullbefore", "nullafter"}

HEAD = (b"From: news@sender.example\r\nTo: victim@example.org\r\nSubject: first\r\n"
        b"Message-ID: <smug@sender.example>\r\n\r\nThis is the first message.")
SMUGGLED = (b"MAIL FROM:<ceo@victim.example>\r\nRCPT TO:<smuggled@example.org>\r\nDATA\r\n"
            b"From: ceo@victim.example\r\nSubject: smuggled\r\n\r\nsmuggled body\r\n")


def session_bytes(bad_end: bytes) -> bytes:
    return (b"EHLO client.test\r\nMAIL FROM:<news@sender.example>\r\n"
            b"RCPT TO:<victim@example.org>\r\nDATA\r\n"
            + HEAD + bad_end + SMUGGLED + b".\r\nQUIT\r\n")


async def pipelined(port: int, data: bytes) -> list[int]:
    """Whole session in one write (as an attacker pipelines it); codes of every reply."""
    c = await RawSMTP(port).connect(read_greeting=False)
    codes: list[int] = []
    try:
        await c.write(data)
        for _ in range(50):  # bounded: a session has a dozen replies at most
            try:
                codes.append((await c.reply(within=10)).code)
            except EOFError:
                break
            if codes[-1] == 221:
                break
    finally:
        await c.close()
    return codes


@pytest.mark.parametrize("name", list(BAD_ENDS))
async def test_smuggling_variant_rejected_in_default_mode(name, make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    codes = await pipelined(running.port, session_bytes(BAD_ENDS[name]))
    # greeting, EHLO, MAIL, RCPT, 354, ONE final reply, QUIT: the smuggled commands were
    # content, never commands.
    assert codes == [220, 250, 250, 250, 354, 550, 221], codes
    assert sink.received == []


@pytest.mark.parametrize("name", sorted(set(BAD_ENDS) - HAS_NUL))
async def test_smuggling_variant_normalized_to_exactly_one_clean_message(
        name, make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"bare_newlines": "normalize"}))
    codes = await pipelined(running.port, session_bytes(BAD_ENDS[name]))
    assert codes == [220, 250, 250, 250, 354, 250, 221], codes
    (got,) = sink.received  # exactly one message downstream
    assert got.rcpts == ["victim@example.org"]
    assert find_bare_newlines(got.content) == 0
    assert b"Subject: first" in got.content
    # The would-be second transaction stayed inside the first message's body.
    assert b"smuggled body" in got.content.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("name", sorted(HAS_NUL))
async def test_smuggling_with_nul_rejected_in_normalize_mode_too(name, make_config, sink,
                                                                 start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"bare_newlines": "normalize"}))
    codes = await pipelined(running.port, session_bytes(BAD_ENDS[name]))
    assert codes == [220, 250, 250, 250, 354, 550, 221], codes
    assert sink.received == []


async def test_bare_newline_reject_reply_is_550_5_6_0_and_session_goes_on(
        make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    async with RawSMTP(running.port) as c:
        await c.cmd("EHLO client.test")
        await c.cmd("MAIL FROM:<news@sender.example>")
        await c.cmd("RCPT TO:<victim@example.org>")
        assert (await c.cmd("DATA")).code == 354
        final = await c.cmd(HEAD + b"\n.\nstill content\r\n.")
        assert final.code == 550 and final.text.startswith("5.6.0"), final
        # A proper message on the same session is still relayed.
        await c.cmd("MAIL FROM:<news@sender.example>")
        await c.cmd("RCPT TO:<victim@example.org>")
        await c.cmd("DATA")
        assert (await c.cmd(HEAD + b"\r\n.")).code == 250
    assert len(sink.received) == 1


async def test_legitimately_pipelined_second_message_is_two_messages(make_config, sink,
                                                                     start_app):
    """Control for the tests above: a real end of data followed by a pipelined second
    transaction is two messages (PIPELINING is advertised), so the counts above are
    meaningful."""
    running = await start_app(make_config(sink, policy=NO_BASIS))
    codes = await pipelined(running.port, session_bytes(b"\r\n.\r\n"))
    assert codes == [220, 250, 250, 250, 354, 250, 250, 250, 354, 250, 221], codes
    assert [m.rcpts for m in sink.received] == [["victim@example.org"],
                                                 ["smuggled@example.org"]]


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed")
@pytest.mark.parametrize("mode,expect", [("reject", 550), ("normalize", 250)])
async def test_swaks_no_data_fixup_smuggling(mode, expect, make_config, sink, start_app,
                                             tmp_path: Path):
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"bare_newlines": mode}))
    data = tmp_path / "smuggle.eml"
    data.write_bytes(HEAD + b"\n.\r\n" + SMUGGLED + b".\r\n")
    proc = await asyncio.create_subprocess_exec(
        "swaks", "--server", f"127.0.0.1:{running.port}", "--from", "news@sender.example",
        "--to", "victim@example.org", "--data", f"@{data}", "--no-data-fixup",
        "--timeout", "15", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        async with asyncio.timeout(30):
            out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    transcript = out.decode("utf-8", "replace")
    assert f"<** {expect}" in transcript or f"<~  {expect}" in transcript or \
        f"<-  {expect} " in transcript, transcript
    if expect == 550:
        assert sink.received == []
    else:
        (got,) = sink.received
        assert got.rcpts == ["victim@example.org"]
        assert find_bare_newlines(got.content) == 0
