"""A TCP proxy in front of Redis that counts network round trips: one round trip is a
burst of client bytes after the server last answered (however the client fragments it)."""

from __future__ import annotations

import asyncio
import contextlib


class RoundTripProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.round_trips = 0
        self.server: asyncio.Server | None = None
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await t

    async def _client(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        state = {"answered": True}

        async def up() -> None:
            while data := await cr.read(65536):
                if state["answered"]:
                    self.round_trips += 1
                    state["answered"] = False
                uw.write(data)
                await uw.drain()
            uw.close()

        async def down() -> None:
            while data := await ur.read(65536):
                state["answered"] = True
                cw.write(data)
                await cw.drain()
            cw.close()

        for coro in (up(), down()):
            t = asyncio.get_running_loop().create_task(coro)
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)
