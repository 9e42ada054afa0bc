"""SIGTERM-style stop while a message is in flight (RELIABILITY S1): the listener closes
at once, the in-flight transaction is finished and gets its final reply, nothing lost."""

from __future__ import annotations

import asyncio

from ..helpers.client import message, send
from ..helpers.state import NO_BASIS
from ..helpers.waits import wait_until


async def test_stop_finishes_the_in_flight_message_and_replies(make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    sink.control.data_delay = 1.0
    port = running.port
    sending = asyncio.get_running_loop().create_task(
        send(port, ["a@example.org"], message()))
    relay = running.app.relay
    await wait_until(lambda: relay.inflight, within=10, what="the message in flight")
    stopping = asyncio.get_running_loop().create_task(running.app.stop(10))
    await wait_until(lambda: running.app.draining, within=5, what="draining")
    # the listener is closed at once: a new client cannot start a session
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        greeting = b"refused"
    else:
        try:
            greeting = await asyncio.wait_for(r.readline(), 5)
        finally:
            w.close()
    code, text, _ = await asyncio.wait_for(sending, 15)
    await asyncio.wait_for(stopping, 15)
    assert code == 250, text
    assert len(sink.received) == 1
    assert greeting == b"refused" or greeting.startswith(b"421"), greeting
    (row,) = running.decisions()
    assert row["downstream"].startswith("250")
