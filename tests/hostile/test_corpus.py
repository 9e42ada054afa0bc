"""Real-but-malformed messages (RELIABILITY H10): CPython's 48 email test messages
(tests/data/cpython-email) through the relay - marketing by default, so List-Unsubscribe
is added and tracking stripped - and through the inbound listener. Each is relayed (250)
or refused with a clear 5xx; never a 4xx, which here could only mean an internal error
that a retry would meet again; the inbound classifier never raises."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from consentry import headers, rawmsg

from ..helpers.client import send
from ..helpers.state import NO_BASIS
from .conftest import INBOUND, inbound_idle, spooled, well_behaved

CORPUS = sorted((Path(__file__).resolve().parent.parent / "data" / "cpython-email")
                .glob("msg_*.txt"))


def _crlf(data: bytes) -> bytes:
    return rawmsg.normalize_newlines(data if data.endswith(b"\n") else data + b"\n")


async def test_cpython_email_corpus_through_the_relay(make_config: Any, sink: Any,
                                                      start_app: Any) -> None:
    assert len(CORPUS) == 48
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          unsubscribe={"mailto_domain": "bounce.example"},
                                          tracking={"hosts": ["t.example"]}))
    codes: dict[str, int] = {}
    for p in CORPUS:
        before = len(sink.received)
        async with asyncio.timeout(30):
            code, text, _ = await send(running.port, [f"{p.stem}@example.org"],
                                       _crlf(p.read_bytes()))
        codes[p.stem] = code
        assert code == 250 or 500 <= code < 600, (p.name, code, text)
        if code == 250:
            (got,) = sink.received[before:]
            lu = [f.value() for f in rawmsg.parse(got.content).fields
                  if f.lname == "list-unsubscribe"]
            assert len(lu) == 1 and len(headers.parse_uris(lu[0])) == 2, p.name
        else:
            assert len(sink.received) == before
    # no header section to read: body text first (19), an mbox "From " line (25, 43),
    # a header section without the blank line (35): 550 5.6.0, the rest relayed
    assert {k: v for k, v in codes.items() if v != 250} == {
        "msg_19": 550, "msg_25": 550, "msg_35": 550, "msg_43": 550}, codes
    code, _ = await well_behaved(running.port)
    assert code == 250


async def test_cpython_email_corpus_through_the_inbound_listener(
        make_config: Any, sink: Any, start_app: Any, sync_redis: Any) -> None:
    assert len(CORPUS) == 48
    running = await start_app(make_config(sink, inbound=INBOUND, policy=NO_BASIS))
    port = running.app.inbound.ports[0]
    accepted = 0
    for p in CORPUS:
        async with asyncio.timeout(30):
            code, text, _ = await send(port, ["antwort@shop.test"], _crlf(p.read_bytes()),
                                       mail_from="someone@example.com")
        assert code in (250, 554), (p.name, code, text)
        accepted += code == 250
    async with asyncio.timeout(120):
        await inbound_idle(running)
    assert spooled(running) == []
    assert sync_redis.xlen("cs:inbound") == accepted
    log = running.log_path.read_text()
    assert "inbound_classifier_error" not in log and "inbound_process_crashed" not in log
