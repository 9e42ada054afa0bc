"""Oversized input (RELIABILITY H5-H7, Exim 21Nails classes): over-long command and text
lines, header sections with too many or too long fields (one folded header of half a
megabyte), messages over the size limit, and 5 000 pipelined recipients. Each gets its
documented reply (500 / 550 5.6.0 / 552 / 452), the session or the daemon stays usable,
and a well-behaved client running at the same time is served."""

from __future__ import annotations

import asyncio
from typing import Any

from ..helpers.client import message
from ..helpers.rawsmtp import RawSMTP, dot_terminated
from ..helpers.state import NO_BASIS
from .conftest import TORTURE, well_behaved

SENDER = "news@sender.example"


async def _txn(c: RawSMTP, rcpt: str = "a@example.org") -> None:
    assert (await c.cmd(f"MAIL FROM:<{SENDER}>")).code == 250
    assert (await c.cmd(f"RCPT TO:<{rcpt}>")).code == 250


async def _data(c: RawSMTP, content: bytes, within: float = 30) -> int:
    assert (await c.cmd("DATA")).code == 354
    await c.write(dot_terminated(content))
    return (await c.reply(within=within)).code


async def _with_bystander(port: int, attack: Any) -> tuple[Any, int]:
    """Run the attack and, while it runs, one ordinary message from another client."""
    async def bystander() -> int:
        await asyncio.sleep(0.05)
        code, _ = await well_behaved(port, msgid="<bystander@sender.example>")
        return code

    result, code = await asyncio.gather(attack, bystander())
    return result, code


async def test_megabyte_command_line_without_crlf_gets_500_and_session_lives(
        make_config: Any, sink: Any, start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS))

    async def attack() -> list[int]:
        async with RawSMTP(running.port) as c:
            await c.cmd("EHLO client.test")
            chunk = b"A" * 65536
            for _ in range(16):  # 1 MiB on one "line"
                await c.write(chunk)
            r = await c.cmd(b"")
            noop = await c.cmd("NOOP")
            await _txn(c)
            final = await _data(c, message())
            return [r.code, noop.code, final]

    codes, bystander = await _with_bystander(running.port, attack())
    assert codes == [500, 250, 250], codes
    assert bystander == 250
    assert len(sink.received) == 2


async def test_ten_megabyte_data_line_gets_500_then_a_normal_message_relays(
        make_config: Any, sink: Any, start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS))

    async def attack() -> list[int]:
        async with RawSMTP(running.port, timeout=60) as c:
            await c.cmd("EHLO client.test")
            await _txn(c)
            assert (await c.cmd("DATA")).code == 354
            await c.write(b"Subject: long\r\n\r\n")
            chunk = b"z" * 1_048_576
            for _ in range(10):
                await c.write(chunk)
            await c.write(b"\r\n.\r\n")
            first = (await c.reply(within=60)).code
            await _txn(c)
            return [first, await _data(c, message())]

    codes, bystander = await _with_bystander(running.port, attack())
    assert codes == [500, 250], codes
    assert bystander == 250
    assert all(b"zzzz" not in m.content for m in sink.received)


async def test_too_many_header_fields_gets_550_5_6_0(make_config: Any, sink: Any,
                                                     start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS))
    content = b"Subject: many\r\n" + b"X-H: v\r\n" * 10_001 + b"\r\nbody\r\n"

    async def attack() -> tuple[int, str, int]:
        async with RawSMTP(running.port) as c:
            await c.cmd("EHLO client.test")
            await _txn(c)
            assert (await c.cmd("DATA")).code == 354
            await c.write(dot_terminated(content))
            r = await c.reply(within=30)
            await _txn(c)
            return r.code, r.text, await _data(c, message())

    (code, text, after), bystander = await _with_bystander(running.port, attack())
    assert code == 550 and text.startswith("5.6.0"), (code, text)
    assert after == 250 and bystander == 250
    assert len(sink.received) == 2


async def test_header_section_over_one_mebibyte_gets_550(make_config: Any, sink: Any,
                                                         start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS))
    content = b"Subject: big\r\n" + (b"X-Pad: " + b"p" * 990 + b"\r\n") * 1100 + b"\r\nb\r\n"
    async with RawSMTP(running.port) as c:
        await c.cmd("EHLO client.test")
        await _txn(c)
        assert (await c.cmd("DATA")).code == 354
        await c.write(dot_terminated(content))
        r = await c.reply(within=30)
    assert r.code == 550 and r.text.startswith("5.6.0"), r
    assert sink.received == []


async def test_half_megabyte_folded_header_is_handled_in_bounded_time(
        make_config: Any, sink: Any, start_app: Any) -> None:
    """One header field continued over 5 000 lines (Exim CVE-2020-28020's class): relayed
    with List-Unsubscribe added, without a hang or a crash."""
    running = await start_app(make_config(sink, policy=NO_BASIS))
    folded = b"Subject: start\r\n" + b"".join(b"\tcontinued-" + b"w" * 90 + b"\r\n"
                                             for _ in range(5_000))
    content = (b"From: news@sender.example\r\nX-Consent-Class: marketing\r\n" + folded
               + b"Message-ID: <fold@sender.example>\r\n\r\nbody\r\n")

    async def attack() -> int:
        async with RawSMTP(running.port) as c:
            await c.cmd("EHLO client.test")
            await _txn(c)
            async with asyncio.timeout(30):
                return await _data(c, content)

    code, bystander = await _with_bystander(running.port, attack())
    assert code == 250, code  # within the header caps (1 MiB, 10 000 fields): relayed
    assert bystander == 250
    (got, _) = sorted(sink.received, key=lambda m: len(m.content), reverse=True)
    assert got.content.count(b"continued-") == 5_000
    assert b"\r\nList-Unsubscribe:" in got.content.split(b"\r\n\r\n", 1)[0]


async def test_message_over_size_limit_gets_552_while_others_are_served(
        make_config: Any, sink: Any, start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"max_message_size": 1_000_000}))
    big = message() + (b"y" * 998 + b"\r\n") * 12_000  # 12 MB, declared nothing

    async def attack() -> list[int]:
        async with RawSMTP(running.port, timeout=60) as c:
            await c.cmd("EHLO client.test")
            await _txn(c)
            first = await _data(c, big, within=60)
            await _txn(c)
            return [first, await _data(c, message())]

    codes, bystander = await _with_bystander(running.port, attack())
    assert codes == [552, 250], codes
    assert bystander == 250
    assert all(len(m.content) < 1_000_000 for m in sink.received)
    assert len(sink.received) == 2


async def test_thousands_of_pipelined_recipients_get_452_past_the_cap(
        make_config: Any, sink: Any, start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"max_recipients": 100}))
    n = 5_000

    async def attack() -> tuple[list[int], int]:
        async with RawSMTP(running.port, timeout=60) as c:
            await c.cmd("EHLO client.test")
            assert (await c.cmd(f"MAIL FROM:<{SENDER}>")).code == 250
            await c.write(b"".join(f"RCPT TO:<r{i}@example.org>\r\n".encode()
                                   for i in range(n)))
            codes = [(await c.reply(within=60)).code for _ in range(n)]
            return codes, await _data(c, message())

    (codes, final), bystander = await _with_bystander(running.port, attack())
    assert codes[:100] == [250] * 100 and set(codes[100:]) == {452}
    assert final == 250 and bystander == 250
    # marketing by default: one copy per recipient, each of the first 100 exactly once
    got = sorted(r for r in sink.delivered_to() if r != "ok@example.org")
    assert got == sorted(f"r{i}@example.org" for i in range(100))


async def test_pipelined_rcpt_flood_ends_at_the_per_connection_command_limit(
        make_config: Any, sink: Any, start_app: Any) -> None:
    """RELIABILITY H7: 12 000 RCPTs in one transaction (10^5 under CONSENTRY_TORTURE=1).
    Past the recipient cap each gets 452; at 10 000 commands on the connection aiosmtpd's
    call limit answers 421 and closes, so the flood costs bounded work; nothing is
    relayed and other clients are served."""
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"max_recipients": 100}))
    n = 100_000 if TORTURE else 12_000

    async def attack() -> list[int]:
        codes: list[int] = []
        async with RawSMTP(running.port, timeout=60) as c:
            await c.cmd("EHLO client.test")
            assert (await c.cmd(f"MAIL FROM:<{SENDER}>")).code == 250
            assert c.writer is not None
            c.writer.write(b"".join(f"RCPT TO:<r{i}@example.org>\r\n".encode()
                                    for i in range(n)) + b"DATA\r\n")
            for _ in range(n + 1):
                try:
                    codes.append((await c.reply(within=60)).code)
                except (EOFError, ConnectionError):
                    # closed with the rest of the flood unread: the kernel's RST may
                    # discard the 421 still in our receive buffer
                    codes.append(-1)
                    break
                if codes[-1] == 421:
                    break
        return codes

    codes, bystander = await _with_bystander(running.port, attack())
    assert codes[:100] == [250] * 100, codes[:110]
    assert codes[-1] in (421, -1), codes[-3:]
    assert set(codes[100:-1]) == {452}
    assert len(codes) <= 10_001  # bounded by the call limit, not by the attacker
    assert bystander == 250
    assert sink.delivered_to() == ["ok@example.org"]
