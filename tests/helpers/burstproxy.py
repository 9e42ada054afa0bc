"""A TCP proxy in front of Redis that records every request burst: the bytes a client
sends between two answers of the server. One burst = one network round trip, however
many commands it pipelines. `delay` (seconds, changeable at any time) holds every
request burst back that long before it reaches the server: a slow Redis."""

from __future__ import annotations

import asyncio
import contextlib


class BurstProxy:
    def __init__(self, upstream_port: int, delay: float = 0.0) -> None:
        self.upstream_port = upstream_port
        self.delay = delay
        self.bursts: list[bytearray] = []
        self.server: asyncio.Server | None = None
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()  # both sides, until stop()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener and every stream of every connection, whatever state its
        relay tasks reached: a task cancelled before it first ran never runs its
        `finally`, so the streams are closed here, not (only) there."""
        if self.server is not None:
            self.server.close()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await t
        for w in list(self._writers):
            w.close()
        for w in list(self._writers):
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await w.wait_closed()
        self._writers.clear()
        if self.server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self.server.wait_closed()

    def bursts_with(self, needle: bytes) -> list[bytes]:
        return [bytes(b) for b in self.bursts if needle in b]

    async def _client(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        self._writers.add(cw)
        me = asyncio.current_task()
        if me is not None:  # stop() cancels a handler still connecting upstream
            self._tasks.add(me)
            me.add_done_callback(self._tasks.discard)
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            cw.close()  # upstream down: the client sees the connection closed
            return
        self._writers.add(uw)
        current: list[bytearray | None] = [None]  # the burst being sent, None once answered

        async def up() -> None:
            try:
                while data := await cr.read(65536):
                    if current[0] is None:
                        current[0] = bytearray()
                        self.bursts.append(current[0])
                    current[0] += data
                    if self.delay:
                        await asyncio.sleep(self.delay)
                    uw.write(data)
                    await uw.drain()
            finally:
                uw.close()

        async def down() -> None:
            try:
                while data := await ur.read(65536):
                    current[0] = None
                    cw.write(data)
                    await cw.drain()
            finally:
                cw.close()

        for coro in (up(), down()):
            t = asyncio.get_running_loop().create_task(coro)
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)
