"""The benchmark's baseline: a bare aiosmtpd -> aiosmtplib relay with no policy at all.

Same building blocks and connection reuse as consentry (aiosmtpd protocol instances from
loop.create_server, decode_data=False; a bounded pool of persistent aiosmtplib
connections, one MAIL/RCPT.../DATA transaction per message, SIZE option), so the
difference to consentry is the cost of its own work: parsing, classification, the Redis
lookup, the decision chain and the decision log.

    .venv/bin/python bench/passthrough.py --listen 127.0.0.1:2600 --downstream 127.0.0.1:2601
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session


class Pool:
    def __init__(self, host: str, port: int, size: int, idle_timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self.slots = asyncio.Semaphore(size)
        self.idle_timeout = idle_timeout

    async def _connect(self) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(hostname=self.host, port=self.port,
                               local_hostname="passthrough.bench", timeout=60, start_tls=False)
        async with asyncio.timeout(10):
            await smtp.connect()
            await smtp.ehlo()
        return smtp

    def _take(self) -> aiosmtplib.SMTP | None:
        now = time.monotonic()
        while self.idle:
            smtp, used = self.idle.pop()
            if now - used < self.idle_timeout and smtp.is_connected:
                return smtp
            smtp.close()
        return None

    async def relay(self, mail_from: str, rcpts: list[str], content: bytes) -> str:
        async with self.slots:
            smtp = self._take() or await self._connect()
            ok = False
            try:
                options = [f"SIZE={len(content)}"] if smtp.supports_extension("size") else []
                await smtp.mail(mail_from, options=options)
                accepted = 0
                for r in rcpts:
                    try:
                        await smtp.rcpt(r)
                        accepted += 1
                    except aiosmtplib.SMTPRecipientRefused:
                        pass
                if not accepted:
                    await smtp.rset()
                    ok = True
                    return "550 5.1.1 all recipients refused downstream"
                resp = await smtp.data(content)
                ok = True
                return f"250 2.0.0 Ok: {accepted} relayed: {resp.message}"
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                return f"451 4.4.1 downstream: {type(exc).__name__}"
            finally:
                if ok and smtp.is_connected:
                    self.idle.append((smtp, time.monotonic()))
                elif not ok:
                    smtp.close()


class Handler:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return await self.pool.relay(envelope.mail_from or "", list(envelope.rcpt_tos),
                                     envelope.original_content or b"")


async def serve(listen: tuple[str, int], downstream: tuple[str, int], pool_size: int) -> None:
    handler = Handler(Pool(downstream[0], downstream[1], pool_size))
    loop = asyncio.get_running_loop()

    def factory() -> Any:
        return SMTP(handler, data_size_limit=26_214_400, enable_SMTPUTF8=True,
                    decode_data=False, hostname="passthrough.bench", ident="passthrough ESMTP",
                    timeout=300)

    server = await loop.create_server(factory, listen[0], listen[1], reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            await server.wait_closed()


def _hostport(v: str) -> tuple[str, int]:
    host, _, port = v.rpartition(":")
    return host, int(port)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", type=_hostport, required=True)
    p.add_argument("--downstream", type=_hostport, required=True)
    p.add_argument("--pool-size", type=int, default=16)
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio",
                   help="event loop (consentry's server.event_loop has the same choice)")
    a = p.parse_args()
    if a.loop == "uvloop":
        import uvloop

        uvloop.run(serve(a.listen, a.downstream, a.pool_size))
    else:
        asyncio.run(serve(a.listen, a.downstream, a.pool_size))


if __name__ == "__main__":
    main()
