"""Delivery status notifications we owe after a 250 (RFC 5321 §6.1): built from the
durable jobs the relay queued in Redis, delivered by a background worker."""

from __future__ import annotations

import asyncio
import json
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from . import logs
from .delivery import Deliverer, Envelope
from .errors import ConsentryError
from .store import Store


def build_dsn(job: dict[str, Any], reporting_mta: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Mail Delivery System <MAILER-DAEMON@{reporting_mta}>"
    msg["To"] = job["to"]
    msg["Subject"] = "Delivery Status Notification (Failure)"
    msg["Date"] = formatdate(job.get("at", time.time()), usegmt=True)
    msg["Message-ID"] = make_msgid(domain=reporting_mta)
    msg["Auto-Submitted"] = "auto-replied"
    mid = job.get("message_id") or "(no Message-ID)"
    if job.get("kind") == "suppressed":
        lines = [f"consentry did not send your message {mid} to these recipients:", ""]
    else:
        lines = ["The downstream mail server permanently refused these recipients of your "
                 f"message {mid}:", ""]
    lines += [f"  {r['recipient']}: {r['code']} {r['text']}" for r in job["refused"]]
    lines += ["", "Any other recipients were delivered."]
    msg.set_content("\n".join(lines))
    status = [f"Reporting-MTA: dns; {reporting_mta}", ""]
    for r in job["refused"]:
        code = str(r["code"])
        enh = r["text"].split(" ", 1)[0] if r["text"][:2] in ("5.", "4.") else "5.0.0"
        status += [
            f"Final-Recipient: rfc822; {r['recipient']}",
            "Action: failed",
            f"Status: {enh}",
            f"Diagnostic-Code: smtp; {code} {r['text']}",
            "",
        ]
    msg.make_mixed()
    ds = EmailMessage()
    ds.set_content("\n".join(status).encode("ascii", "replace"), maintype="message",
                   subtype="delivery-status", cte="7bit")
    msg.attach(ds)
    msg.replace_header("Content-Type", 'multipart/report; report-type="delivery-status"; '
                       f'boundary="{msg.get_boundary()}"')
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


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
        except (ValueError, KeyError, TypeError) as exc:
            self.log.error("dsn_job_invalid", reason=str(exc))
            await self.store.finish_dsn(raw)
            return True
        try:
            await self.deliverer.deliver(Envelope("", (job["to"],), content))
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
