"""SMTP client helpers for tests: a high-level send and a raw-bytes session."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import aiosmtplib


def message(subject: str = "Hello", headers: dict[str, str] | None = None,
            body: str = "Newsletter body\n", msgid: str | None = None) -> bytes:
    m = EmailMessage()
    m["From"] = "News <news@sender.example>"
    m["To"] = "list@example.org"
    m["Subject"] = subject
    m["Message-ID"] = msgid or "<test-1@sender.example>"
    for k, v in (headers or {}).items():
        m[k] = v
    m.set_content(body)
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


async def send(port: int, rcpts: list[str], content: bytes,
               mail_from: str = "news@sender.example") -> tuple[int, str, dict[str, str]]:
    """Returns (final code, final text, per-recipient RCPT refusals)."""
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=20)
    await smtp.connect()
    try:
        await smtp.ehlo()
        await smtp.mail(mail_from)
        refused: dict[str, str] = {}
        for r in rcpts:
            try:
                await smtp.rcpt(r)
            except aiosmtplib.SMTPRecipientRefused as exc:
                refused[r] = f"{exc.code} {exc.message}"
        if len(refused) == len(rcpts):
            return 0, "no recipient accepted", refused
        try:
            resp = await smtp.data(content)
            return resp.code, resp.message, refused
        except aiosmtplib.SMTPDataError as exc:
            return exc.code, exc.message, refused
    finally:
        try:
            await smtp.quit()
        except aiosmtplib.SMTPException:
            smtp.close()


async def raw_session(port: int, data: bytes, read_timeout: float = 10.0) -> bytes:
    """Send raw bytes (pipelined) and read everything until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    out = b""
    try:
        async with asyncio.timeout(read_timeout):
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                out += chunk
    except TimeoutError:
        pass
    writer.close()
    return out
