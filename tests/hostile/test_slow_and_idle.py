"""Slow clients and idle connections (RELIABILITY H8): a client trickling a byte at a
time never completes a command and is cut off by the command timeout (in DATA by the
data timeout), with nothing relayed; many idle connections fill the connection cap, the
next one gets 421, and clients are served again once sockets are freed (closed by the
client or by the idle timeout). Ordinary clients are served throughout."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from ..helpers.rawsmtp import RawSMTP
from ..helpers.state import NO_BASIS
from .conftest import INBOUND, TORTURE, well_behaved


async def _trickle(c: RawSMTP, data: bytes, interval: float, limit: float) -> float:
    """Write one byte per interval until the server closes; seconds until it did."""
    t0 = time.monotonic()
    assert c.writer is not None and c.reader is not None
    for b in data:
        if time.monotonic() - t0 > limit:
            raise AssertionError(f"server kept a trickling client for {limit} s")
        try:
            c.writer.write(bytes([b]))
            await c.writer.drain()
        except ConnectionError:
            return time.monotonic() - t0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval):
                chunk = await c.reader.read(4096)
                if not chunk:
                    return time.monotonic() - t0
    raise AssertionError("ran out of bytes before the server closed")


async def test_byte_at_a_time_command_is_timed_out_others_served(
        make_config: Any, sink: Any, start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"command_timeout": 2}))
    slow = [await RawSMTP(running.port).connect() for _ in range(3)]
    try:
        trickles = [asyncio.create_task(_trickle(c, b"EHLO " + b"s" * 200, 0.3, 15))
                    for c in slow]
        served = [await well_behaved(running.port, msgid=f"<ok{i}@sender.example>")
                  for i in range(3)]
        held = await asyncio.gather(*trickles)
    finally:
        for c in slow:
            await c.close()
    assert [code for code, _ in served] == [250, 250, 250]
    # the timer is reset only by a complete command: cut after ~2 s, never kept
    assert all(1.5 <= h < 8 for h in held), held
    assert len(sink.received) == 3


async def test_byte_at_a_time_data_is_timed_out_and_nothing_relayed(
        make_config: Any, sink: Any, start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"command_timeout": 2,
                                                      "data_timeout": 3},
                                          downstream={"data_timeout": 2}))
    async with RawSMTP(running.port) as c:
        await c.cmd("EHLO client.test")
        await c.cmd("MAIL FROM:<news@sender.example>")
        await c.cmd("RCPT TO:<a@example.org>")
        assert (await c.cmd("DATA")).code == 354
        held = await _trickle(c, b"Subject: slow\r\n\r\n" + b"x" * 500, 0.3, 20)
    assert 2.5 <= held < 10, held
    assert sink.received == []
    code, _ = await well_behaved(running.port)
    assert code == 250


async def test_silent_connection_is_closed_by_the_idle_timeout(
        make_config: Any, sink: Any, start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"command_timeout": 1.5}))
    t0 = time.monotonic()
    async with RawSMTP(running.port) as c:
        assert c.greeting is not None and c.greeting.code == 220
        assert await c.closed_by_server(within=10)
    assert 1.0 <= time.monotonic() - t0 < 8


async def test_every_complete_command_moves_the_idle_deadline(
        make_config: Any, sink: Any, start_app: Any) -> None:
    """A client that is never silent for a whole timeout is kept however long it talks;
    after DATA's longer budget the command timeout applies again, counted from the last
    command, and a silence of that length ends the session."""
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"command_timeout": 1.5,
                                                      "data_timeout": 8}))
    async with RawSMTP(running.port) as c:
        await c.cmd("EHLO client.test")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 4.5:  # three timeouts long, never idle for one
            await asyncio.sleep(0.3)
            assert (await c.cmd("NOOP")).code == 250
        await c.cmd("MAIL FROM:<news@sender.example>")
        await c.cmd("RCPT TO:<a@example.org>")
        assert (await c.cmd("DATA")).code == 354
        await asyncio.sleep(2.0)  # inside DATA: the 8 s budget, not the 1.5 s one
        await c.write(b"Subject: kept\r\n\r\nhello\r\n.\r\n")
        reply = await c.reply(within=10)
        assert reply.code == 250, reply
        t1 = time.monotonic()
        assert await c.closed_by_server(within=10)
        silent = time.monotonic() - t1
    # the 1.5 s command timeout again, not what is left of DATA's 8 s (6 s)
    assert 1.0 <= silent < 4.5, silent
    assert len(sink.received) == 1


async def test_idle_connections_fill_the_cap_then_421_then_served_once_freed(
        make_config: Any, sink: Any, start_app: Any) -> None:
    cap = 30
    running = await start_app(make_config(sink, policy=NO_BASIS, submission={
        "max_connections": cap, "max_connections_per_ip": cap, "command_timeout": 4}))
    idle = [await RawSMTP(running.port, source=f"127.0.0.{2 + i % 5}").connect()
            for i in range(cap)]
    try:
        assert all(c.greeting is not None and c.greeting.code == 220 for c in idle)
        extra = await RawSMTP(running.port, source="127.0.0.9").connect()
        assert extra.greeting is not None and extra.greeting.code == 421, extra.greeting
        assert await extra.closed_by_server()
        await extra.close()
        # freed by the client: the next connection is served at once
        await idle.pop().close()
        code, _ = await well_behaved(running.port)
        assert code == 250
        # the rest are freed by the idle timeout: then several clients are served
        closed = await asyncio.gather(*(c.closed_by_server(within=15) for c in idle))
        assert all(closed)
        served = await asyncio.gather(*(well_behaved(running.port, rcpt=f"p{i}@example.org",
                                                     msgid=f"<p{i}@sender.example>")
                                        for i in range(5)))
        assert [code for code, _ in served] == [250] * 5
    finally:
        for c in idle:
            await c.close()


async def test_one_ip_at_its_cap_does_not_lock_out_another(
        make_config: Any, sink: Any, start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS, submission={
        "max_connections_per_ip": 5, "client_networks": ["127.0.0.0/8"]}))
    hog = [await RawSMTP(running.port, source="127.0.0.2").connect() for _ in range(5)]
    try:
        more = await RawSMTP(running.port, source="127.0.0.2").connect()
        assert more.greeting is not None and more.greeting.code == 421
        await more.close()
        code, _ = await well_behaved(running.port)  # from 127.0.0.1
        assert code == 250
    finally:
        for c in hog:
            await c.close()


async def test_busy_but_endless_session_gets_421_at_the_session_limit(
        make_config: Any, sink: Any, start_app: Any) -> None:
    """A client sending RSET just often enough resets the command timeout for ever; the
    session limit ends it."""
    running = await start_app(make_config(sink, policy=NO_BASIS, submission={
        "command_timeout": 2, "session_timeout": 3}))
    t0 = time.monotonic()
    async with RawSMTP(running.port) as c:
        codes = []
        for _ in range(40):  # bounded: 20 s of RSETs at most
            try:
                codes.append((await c.cmd("RSET", within=5)).code)
            except EOFError:
                break
            if codes[-1] == 421:
                assert await c.closed_by_server()
                break
            await asyncio.sleep(0.5)
    took = time.monotonic() - t0
    assert codes[-1] == 421 and set(codes[:-1]) == {250}, codes
    assert 2.5 <= took < 8, took


async def test_session_limit_lets_a_relaying_message_finish(
        make_config: Any, sink: Any, start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS, submission={
        "session_timeout": 1.5}))
    sink.control.data_delay = 2.5  # the downstream is still working at the deadline
    async with RawSMTP(running.port) as c:
        await c.cmd("EHLO client.test")
        await c.cmd("MAIL FROM:<news@sender.example>")
        await c.cmd("RCPT TO:<a@example.org>")
        assert (await c.cmd("DATA")).code == 354
        await c.write(b"Subject: s\r\nMessage-ID: <s@sender.example>\r\n\r\nbody\r\n.\r\n")
        final = await c.reply(within=15)
        after = await c.reply(within=5)
    assert final.code == 250, final  # the reply to the final dot was not cut
    assert after.code == 421, after
    assert len(sink.received) == 1


async def test_slowloris_swarm_is_held_to_the_per_ip_caps_and_clients_served(
        make_config: Any, sink: Any, start_app: Any) -> None:
    """RELIABILITY H8: many slow sockets from several addresses (1 000 under
    CONSENTRY_TORTURE=1). The per-IP cap admits exactly its share from each, the rest get
    421, ordinary clients from elsewhere are served meanwhile, and the admitted slow
    sockets are cut by the command timeout."""
    ips, per_ip = (10, 20) if TORTURE else (5, 8)
    per_ip_sockets = 100 if TORTURE else 16
    running = await start_app(make_config(sink, policy=NO_BASIS, submission={
        "max_connections": ips * per_ip + 20, "max_connections_per_ip": per_ip,
        "command_timeout": 3}))

    gate = asyncio.Semaphore(50)  # connect in waves: the listen backlog is not under test

    async def slow(ip: str) -> RawSMTP | int:
        c = RawSMTP(running.port, source=ip)
        async with gate:
            await c.connect()
        assert c.greeting is not None
        if c.greeting.code != 220:
            await c.close()
            return c.greeting.code
        await c.write(b"E")  # a command that never ends
        return c

    got = await asyncio.gather(*(slow(f"127.0.1.{1 + i % ips}")
                                 for i in range(ips * per_ip_sockets)))
    held = [c for c in got if isinstance(c, RawSMTP)]
    try:
        refused = [c for c in got if not isinstance(c, RawSMTP)]
        assert len(held) == ips * per_ip
        assert set(refused) == {421} and len(refused) == ips * (per_ip_sockets - per_ip)
        served = await asyncio.gather(*(well_behaved(running.port, rcpt=f"w{i}@example.org",
                                                     msgid=f"<w{i}@sender.example>")
                                        for i in range(5)))
        assert [code for code, _ in served] == [250] * 5
        closed = await asyncio.gather(*(c.closed_by_server(within=20) for c in held))
        assert all(closed)
    finally:
        await asyncio.gather(*(c.close() for c in held))


async def test_inbound_listener_has_the_session_limit_too(make_config: Any, sink: Any,
                                                          start_app: Any) -> None:
    """The inbound listener faces the Internet: a NOOP/RSET drip must not hold a slot."""
    running = await start_app(make_config(sink, policy=NO_BASIS, inbound={
        **INBOUND, "command_timeout": 2, "session_timeout": 3}))
    t0 = time.monotonic()
    codes = []
    async with RawSMTP(running.app.inbound.ports[0]) as c:
        for _ in range(40):
            try:
                codes.append((await c.cmd("RSET", within=5)).code)
            except EOFError:
                break
            if codes[-1] == 421:
                break
            await asyncio.sleep(0.5)
    assert codes[-1] == 421 and set(codes[:-1]) == {250}, codes
    assert 2.5 <= time.monotonic() - t0 < 8
