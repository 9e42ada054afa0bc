"""The chunked DATA reader (consentry.smtp_data) gives aiosmtpd's answers.

Two oracles: aiosmtpd 1.4.6 itself, a stock `aiosmtpd.smtp.SMTP` and consentry's
`DrainableSMTP` served side by side on loopback and fed the same byte streams cut into the
same pieces (replies and the content each handler received must match); and, for many
more examples, a line-by-line reading of RFC 5321 §4.5.2 written here, against which the
reader must give one result whatever the cut points."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from consentry.smtp_data import DataReader, DataState
from consentry.smtp_server import DrainableSMTP

TORTURE = bool(os.environ.get("CONSENTRY_TORTURE"))

# Lines built from the pieces that matter: dots, bare CR/LF, CRLF, end-of-data look-alikes.
piece = st.sampled_from([b"a", b"xyz", b".", b"..", b"\r", b"\n", b"\r\n", b"\n.\r\n",
                         b"\r\n.\n", b"\r.\r", b" ", b"\x00", b"\xc3\xa9", b"x" * 40])
line = st.lists(piece, max_size=12).map(b"".join)
body = st.lists(line, max_size=12).map(lambda ls: b"".join(ln + b"\r\n" for ln in ls))
limits = st.tuples(st.sampled_from([0, 40, 120, 400]), st.sampled_from([10, 30, 1001]))


def cuts(data: bytes, points: list[int]) -> list[bytes]:
    ps = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(ps) if b > a]


def reference(stream: bytes, size_limit: int, line_limit: int) -> tuple[Any, bytes, bytes]:
    """RFC 5321 §4.5.2 line by line, with aiosmtpd's limits and their order. Returns
    (state, content, bytes after the end) or (None, ...) when the end never came."""
    pos, size, state, out = 0, 0, DataState.NOMINAL, []
    while True:
        j = stream.find(b"\r\n", pos)
        if j < 0:
            if state is DataState.NOMINAL and len(stream) - pos > line_limit:
                state = DataState.TOO_LONG
            return None, b"", b""
        text = stream[pos:j]
        pos = j + 2
        if text == b".":
            return state, b"".join(out) if state is DataState.NOMINAL else b"", stream[pos:]
        if state is not DataState.NOMINAL:
            continue
        if len(text) > line_limit:
            state = DataState.TOO_LONG
            continue
        size += len(text) + 2
        if size_limit and size > size_limit:
            state = DataState.TOO_MUCH
        elif len(text) + 2 > line_limit:
            state = DataState.TOO_LONG
        else:
            out.append((text[1:] if text.startswith(b".") else text) + b"\r\n")


def run_reader(pieces: list[bytes], size_limit: int, line_limit: int
               ) -> tuple[Any, bytes, bytes]:
    r = DataReader(size_limit, line_limit)
    fed = b""
    for i, p in enumerate(pieces):
        rest = r.feed(p)
        fed += p
        if rest is not None:
            after = rest + b"".join(pieces[i + 1:])
            return r.state, r.content() if r.state is DataState.NOMINAL else b"", after
    return None, b"", b""


@settings(max_examples=3000 if TORTURE else 400, deadline=None)
@given(body=body, trailer=st.sampled_from([b".\r\n", b".\r\nNOOP\r\n", b"", b".\n",
                                           b"x.\r\n"]),
       points=st.lists(st.integers(0, 10_000), max_size=8), lim=limits)
@example(body=b"", trailer=b".\r\n", points=[], lim=(0, 1001))
@example(body=b".\r\n", trailer=b"..\r\n.\r\n", points=[1, 2, 3], lim=(0, 1001))
@example(body=b"x" * 31 + b"\r\n", trailer=b".\r\n", points=[5], lim=(20, 30))
def test_reader_matches_the_line_by_line_reading_whatever_the_cuts(
        body: bytes, trailer: bytes, points: list[int], lim: tuple[int, int]) -> None:
    stream = body + trailer
    size_limit, line_limit = lim
    want = reference(stream, size_limit, line_limit)
    got = run_reader(cuts(stream, points), size_limit, line_limit)
    if want[0] is None:
        assert got[0] is None
    else:
        assert got == want


def test_an_endless_line_keeps_memory_bounded() -> None:
    r = DataReader(0, 1001)
    for _ in range(1000):
        assert r.feed(b"y" * 4096) is None
    assert r.state is DataState.TOO_LONG
    assert len(r._tail) <= 4 and not r._parts
    assert r.feed(b"\r\n.\r\nQUIT\r\n") == b"QUIT\r\n"


def test_content_over_the_size_limit_is_dropped_at_once() -> None:
    r = DataReader(100, 1001)
    assert r.feed(b"z" * 60 + b"\r\n" + b"z" * 60 + b"\r\n") is None
    assert r.state is DataState.TOO_MUCH and not r._parts
    assert r.feed(b".\r\n") == b""


# -- aiosmtpd itself as the oracle, over loopback -----------------------------------------

class Capture:
    def __init__(self) -> None:
        self.got: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.got.append(envelope.original_content or b"")
        return "250 taken"


async def _serve(factory: Any) -> tuple[asyncio.Server, int]:
    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _exchange(port: int, pieces: list[bytes]) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    out = b""

    async def upto(n: int) -> None:
        nonlocal out
        async with asyncio.timeout(5):
            while out.count(b"\r\n") < n:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                out += chunk

    await upto(1)  # greeting
    writer.write(b"HELO t\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n")
    await upto(5)
    try:
        for p in pieces:
            writer.write(p)
            await writer.drain()
            await asyncio.sleep(0.001)  # separate reads on the server
        writer.write(b"NOOP\r\n")
        await writer.drain()
    except ConnectionError:
        pass  # the server ended the session (e.g. on bogus commands after the end)
    with contextlib.suppress(TimeoutError, ConnectionError):
        await upto(7)
    writer.close()
    return out


async def _both(pieces: list[bytes], size_limit: int, line_limit: int
                ) -> tuple[tuple[bytes, list[bytes]], tuple[bytes, list[bytes]]]:
    theirs_h, ours_h = Capture(), Capture()

    class Stock(SMTP):
        pass

    class Ours(DrainableSMTP):
        pass

    Stock.line_length_limit = Ours.line_length_limit = line_limit
    kw: dict[str, Any] = {"data_size_limit": size_limit or None, "decode_data": False,
                          "hostname": "t", "timeout": 10}
    s1, p1 = await _serve(lambda: Stock(theirs_h, **kw))
    s2, p2 = await _serve(lambda: Ours(ours_h, data_timeout=10, **kw))
    try:
        a, b = await asyncio.gather(_exchange(p1, pieces), _exchange(p2, pieces))
    finally:
        s1.close()
        s2.close()
    return (a, theirs_h.got), (b, ours_h.got)


@settings(max_examples=200 if TORTURE else 25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(body=body, trailer=st.sampled_from([b".\r\n", b".\r\nNOOP\r\n", b"x\r\n.\r\n"]),
       points=st.lists(st.integers(0, 10_000), max_size=5), lim=limits)
@example(body=b"..x\r\n.\r\n", trailer=b".\r\n", points=[2, 3, 4], lim=(0, 1001))
@example(body=b"x" * 50 + b"\r\n", trailer=b".\r\n", points=[7], lim=(0, 30))
@example(body=b"x" * 50 + b"\r\n", trailer=b".\r\n", points=[7], lim=(40, 1001))
@example(body=b"a\n.\r\nb\r\n", trailer=b".\r\n", points=[], lim=(0, 1001))
def test_same_replies_and_content_as_stock_aiosmtpd_on_loopback(
        body: bytes, trailer: bytes, points: list[int], lim: tuple[int, int]) -> None:
    stream = body + trailer
    (theirs_out, theirs_got), (ours_out, ours_got) = asyncio.run(
        _both(cuts(stream, points), *lim))
    assert ours_out == theirs_out
    assert ours_got == theirs_got
