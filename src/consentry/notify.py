"""Delivery status notifications we owe after a 250 (RFC 5321 §6.1): built from the
durable jobs the relay queued in Redis, delivered by a background worker."""

from __future__ import annotations

import asyncio
import json
import quopri
import re
import time
import uuid
from email.utils import formatdate, make_msgid
from typing import Any

from . import logs
from .delivery import Deliverer, Envelope
from .errors import ConsentryError, UpstreamPermanent
from .store import Store

_UNSAFE_HEADER = re.compile(r"[\x00-\x1f\x7f]")


def _safe(value: object, limit: int = 500) -> str:
    """Job fields end up in header and status lines: never a control byte or CR/LF."""
    return _UNSAFE_HEADER.sub("?", str(value))[:limit]


def build_dsn(job: dict[str, Any], reporting_mta: str) -> bytes:
    """An RFC 3464 multipart/report, built byte by byte.

    Not via the stdlib email generator: it crashes on a message/delivery-status part
    given as text and cannot fold non-ASCII addresses there (RFC 6533). Non-ASCII
    addresses use message/global-delivery-status in UTF-8.
    """
    to = _safe(job["to"], 256)
    mid = _safe(job.get("message_id") or "(no Message-ID)", 256)
    refused = [(_safe(r["recipient"], 256), _safe(r["code"], 3), _safe(r["text"]))
               for r in job["refused"]]
    if job.get("kind") == "suppressed":
        lines = [f"consentry did not send your message {mid} to these recipients:", ""]
    else:
        lines = ["The downstream mail server permanently refused these recipients of your "
                 f"message {mid}:", ""]
    lines += [f"  {rcpt}: {code} {text}" for rcpt, code, text in refused]
    lines += ["", "Any other recipients were delivered."]
    status = [f"Reporting-MTA: dns; {reporting_mta}", ""]
    for rcpt, code, text in refused:
        enh = text.split(" ", 1)[0] if text[:2] in ("5.", "4.") else "5.0.0"
        status += [
            f"Final-Recipient: {'utf-8' if not rcpt.isascii() else 'rfc822'}; {rcpt}",
            "Action: failed",
            f"Status: {enh}",
            f"Diagnostic-Code: smtp; {code} {text}",
            "",
        ]
    utf8 = not all(s.isascii() for s in [to, *status])
    boundary = f"=_consentry_{uuid.uuid4().hex}"
    at = job.get("at")
    head = [
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>",
        f"To: <{to}>",
        "Subject: Delivery Status Notification (Failure)",
        f"Date: {formatdate(float(at) if at is not None else time.time(), usegmt=True)}",
        f"Message-ID: {make_msgid(domain=reporting_mta)}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type="delivery-status"; '
        f'boundary="{boundary}"',
    ]
    body_text = quopri.encodestring("\r\n".join(lines).encode("utf-8")).replace(
        b"\r\n", b"\n").replace(b"\n", b"\r\n")
    ds_type = "message/global-delivery-status" if utf8 else "message/delivery-status"
    parts = [
        "\r\n".join(head).encode("utf-8"), b"", b"This is a delivery status notification.",
        f"--{boundary}".encode(),
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: quoted-printable", b"",
        body_text.rstrip(b"\r\n"),
        f"--{boundary}".encode(),
        f"Content-Type: {ds_type}".encode(),
        b"Content-Transfer-Encoding: 8bit" if utf8 else b"Content-Transfer-Encoding: 7bit",
        b"",
        "\r\n".join(status).encode("utf-8"),
        f"--{boundary}--".encode(), b"",
    ]
    return b"\r\n".join(parts)


class DsnWorker:
    def __init__(self, store: Store, deliverer: Deliverer, reporting_mta: str) -> None:
        self.store = store
        self.deliverer = deliverer
        self.reporting_mta = reporting_mta
        self.log = logs.get("consentry.dsn")
        self.sent = 0

    async def run_once(self) -> bool:
        raw = await self.store.claim_dsn()
        if raw is None:
            return False
        try:
            job = json.loads(raw)
            content = build_dsn(job, self.reporting_mta)
        except Exception as exc:  # a poison job must not stop the worker for the others
            self.log.error("dsn_job_invalid", reason=f"{type(exc).__name__}: {exc}",
                           job=raw[:2000])
            await self.store.finish_dsn(raw)
            return True
        utf8 = not (str(job["to"]).isascii() and content.isascii())
        try:
            await self.deliverer.deliver(Envelope("", (job["to"],), content, smtputf8=utf8))
        except UpstreamPermanent as exc:
            # The sender's own server refuses the DSN: retrying cannot help (RFC 3461
            # does not bounce bounces). Keep the evidence in the log and drop the job.
            self.log.error("dsn_undeliverable", to=job["to"], reason=str(exc), job=raw[:2000])
            await self.store.finish_dsn(raw)
            return True
        except ConsentryError as exc:
            self.log.warning("dsn_deferred", to=job["to"], reason=str(exc))
            await self.store.retry_dsn(raw)
            raise
        await self.store.finish_dsn(raw)
        self.sent += 1
        self.log.info("dsn_sent", to=job["to"], message_id=job.get("message_id"))
        return True

    async def run(self) -> None:
        backoff = 1.0
        while True:
            try:
                while await self.run_once():
                    backoff = 1.0
                await asyncio.sleep(1.0)
            except ConsentryError:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 300.0)
            except Exception as exc:  # never let one bad round end the worker for good
                self.log.error("dsn_worker_error", reason=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 300.0)
