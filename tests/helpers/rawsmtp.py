"""A line-level SMTP client for tests that need exact bytes on the wire: every read is
bounded, replies are parsed (multi-line aware), and the socket is always closed."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from types import TracebackType


@dataclass(frozen=True)
class Reply:
    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


class RawSMTP:
    def __init__(self, port: int, host: str = "127.0.0.1",
                 source: str | None = None, timeout: float = 15.0) -> None:
        self.port = port
        self.host = host
        self.source = source
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.greeting: Reply | None = None

    async def connect(self, read_greeting: bool = True) -> RawSMTP:
        local = (self.source, 0) if self.source else None
        async with asyncio.timeout(self.timeout):
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, local_addr=local, limit=1 << 20)
        if read_greeting:
            self.greeting = await self.reply()
        return self

    async def __aenter__(self) -> RawSMTP:
        return await self.connect()

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self.writer.wait_closed()
            self.writer = None

    async def write(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self, within: float | None = None) -> Reply:
        """One (possibly multi-line) reply; raises EOFError if the server closed first."""
        assert self.reader is not None
        lines: list[str] = []
        async with asyncio.timeout(within if within is not None else self.timeout):
            while True:
                raw = await self.reader.readline()
                if not raw:
                    raise EOFError(f"server closed the connection after {lines!r}")
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                lines.append(line[4:])
                if len(line) < 4 or line[3] != "-":
                    return Reply(int(line[:3]), tuple(lines))

    async def cmd(self, line: str | bytes, within: float | None = None) -> Reply:
        data = line if isinstance(line, bytes) else line.encode("utf-8")
        await self.write(data + b"\r\n")
        return await self.reply(within)

    async def replies(self, n: int, within: float | None = None) -> list[Reply]:
        return [await self.reply(within) for _ in range(n)]

    async def closed_by_server(self, within: float = 5.0) -> bool:
        """True when the server closes the connection (EOF) within the timeout."""
        assert self.reader is not None
        try:
            async with asyncio.timeout(within):
                while await self.reader.read(4096):
                    pass
            return True
        except TimeoutError:
            return False
        except ConnectionError:
            return True


def dot_terminated(body: bytes) -> bytes:
    """DATA payload as a client would send it: dot-stuffed, ended by CRLF.CRLF."""
    lines = body.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()
    stuffed = [b"." + ln if ln.startswith(b".") else ln for ln in lines]
    return b"\r\n".join(stuffed) + b"\r\n.\r\n"
