"""End to end through the real listener, real Redis and a real aiosmtpd downstream."""

from __future__ import annotations

import json
import time

from ..helpers.client import message, send


def suppress(r, key: str, reason: str = "unsubscribe", scope: str = "global") -> None:
    r.hset(f"cs:supp:{key}", scope, json.dumps({"reason": reason, "source": "test",
                                                 "at": time.time()}))


async def test_suppressed_recipient_dropped_others_relayed(make_config, sink, start_app,
                                                           sync_redis):
    running = await start_app(make_config(sink, policy={"require_basis": False}))
    suppress(sync_redis, "gone@example.org")
    code, text, _ = await send(running.port, ["gone@example.org", "ok@example.org"],
                                     message(headers={"X-Consent-Class": "marketing"}))
    assert code == 250, text
    assert "queued as Q00001" in text
    assert sink.delivered_to() == ["ok@example.org"]
    rows = {d["recipient"]: d for d in running.decisions()}
    assert rows["gone@example.org"]["verdict"] == "suppress"
    assert rows["gone@example.org"]["rule"] == "objection"
    assert rows["ok@example.org"]["verdict"] == "allow"
    assert rows["ok@example.org"]["downstream"].startswith("250")


async def test_control_headers_removed_before_relay(make_config, sink, start_app):
    running = await start_app(make_config(sink, policy={"require_basis": False}))
    content = message(headers={"X-Consent-Class": "marketing", "X-Campaign-Id": "c42",
                               "X-Consent-List": "news", "X-Consent-Category": "ink"})
    code, _, _ = await send(running.port, ["a@example.org"], content)
    assert code == 250
    (got,) = sink.received
    assert b"X-Consent-" not in got.content and b"X-Campaign-Id" not in got.content
    assert b"Subject: Hello" in got.content
    (row,) = running.decisions()
    assert (row["campaign"], row["list"], row["category"]) == ("c42", "news", "ink")
