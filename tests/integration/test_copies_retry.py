"""Per-recipient copies against a real downstream: all RCPTs are checked before any DATA;
a copy that fails after another was accepted is kept in the Redis retry queue and
delivered exactly once; tracking is stripped for recipients without tracking consent."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import time
from email.message import EmailMessage
from typing import Any

from consentry.retryq import RetryJob

from ..helpers.client import message, send
from ..helpers.sink import SinkHandler
from ..helpers.state import NO_BASIS
from ..helpers.waits import wait_until

MARKETING = {"X-Consent-Class": "marketing", "X-Consent-List": "news"}
RCPTS = ["a@example.org", "b@example.org", "c@example.org"]


def fail_data_for(monkeypatch: Any, rcpt: str, replies: list[str]) -> None:
    """The sink answers DATA for a copy to `rcpt` with these replies, one per attempt.
    aiosmtpd binds handler hooks per connection: patch before the daemon connects."""
    orig = SinkHandler.handle_DATA
    pending = list(replies)

    async def handle_DATA(self: SinkHandler, server: Any, session: Any, envelope: Any) -> str:
        if envelope.rcpt_tos == [rcpt] and pending:
            return pending.pop(0)
        return await orig(self, server, session, envelope)

    monkeypatch.setattr(SinkHandler, "handle_DATA", handle_DATA)


def config(make_config: Any, sink: Any, **retry: Any) -> Any:
    return make_config(sink, policy=NO_BASIS,
                       retry={"initial_delay": 0.2, "max_delay": 0.5, "poll_interval": 0.1,
                              **retry})


async def test_copy_failing_after_another_was_accepted_is_queued_and_delivered_once(
        make_config, sink, start_app, sync_redis, monkeypatch):
    fail_data_for(monkeypatch, "b@example.org", ["451 4.3.0 busy, try later"])
    running = await start_app(config(make_config, sink, initial_delay=1.0, max_delay=1.0))
    code, text, _ = await send(running.port, RCPTS, message(headers=MARKETING))
    assert code == 250, text  # a and c were delivered: a 4xx now would duplicate them
    assert "3 of 3" in text
    assert sorted(sink.delivered_to()) == ["a@example.org", "c@example.org"]
    (job_id,) = sync_redis.zrange("cs:retry:due", 0, -1)  # durable before the 250
    job = json.loads(sync_redis.get(f"cs:retry:job:{job_id}"))
    assert job["rcpt"] == "b@example.org" and job["attempts"] == 1
    rows = {d["recipient"]: d for d in running.decisions()}
    assert rows["b@example.org"]["downstream"].startswith("queued for retry")
    await wait_until(lambda: "b@example.org" in sink.delivered_to(), within=10,
                     what="retry of b's copy")
    await wait_until(lambda: sync_redis.zcard("cs:retry:due") == 0, within=5,
                     what="retry job finished")
    assert sorted(sink.delivered_to()) == RCPTS  # each exactly once
    assert sync_redis.exists(f"cs:retry:done:{job_id}")
    # b's retried copy is the very copy that was prepared for b (its own token).
    b_copy = next(m.content for m in sink.received if m.rcpts == ["b@example.org"])
    assert b_copy == base64.b64decode(job["content"])
    assert running.app.relay.counters.copies_queued == 1


async def test_all_rcpts_checked_before_any_data(make_config, sink, start_app, sync_redis):
    running = await start_app(config(make_config, sink))
    sink.control.rcpt_replies["c@example.org"] = "452 4.2.2 mailbox full"
    code, text, _ = await send(running.port, RCPTS, message(headers=MARKETING))
    assert code == 451, text
    assert sink.received == []  # not even a's copy left
    assert sync_redis.zcard("cs:retry:due") == 0


async def test_first_copy_failing_tempfails_the_whole_message(make_config, sink, start_app,
                                                               sync_redis, monkeypatch):
    fail_data_for(monkeypatch, "a@example.org", ["451 4.3.0 busy"])
    running = await start_app(config(make_config, sink))
    code, text, _ = await send(running.port, RCPTS, message(headers=MARKETING))
    assert code == 451, text
    assert sink.received == []
    assert sync_redis.zcard("cs:retry:due") == 0
    # The client's retry then delivers each copy once.
    code, text, _ = await send(running.port, RCPTS, message(headers=MARKETING))
    assert code == 250 and sorted(sink.delivered_to()) == RCPTS


async def test_retry_refused_permanently_is_recorded_and_reported(
        make_config, sink, start_app, sync_redis, monkeypatch):
    fail_data_for(monkeypatch, "b@example.org", ["451 4.3.0 busy", "550 5.1.1 no such user"])
    running = await start_app(config(make_config, sink))
    code, _, _ = await send(running.port, RCPTS, message(headers=MARKETING))
    assert code == 250
    await wait_until(lambda: any(r == "news@sender.example" for r in sink.delivered_to()),
                     within=10, what="DSN for b's refused retry")
    assert "b@example.org" not in sink.delivered_to()
    bounces = [f for _, f in sync_redis.xrange("cs:bounces")]
    assert any(b["address"] == "b@example.org" and b["source"] == "retry-queue"
               for b in bounces)
    assert sync_redis.zcard("cs:retry:due") == 0


async def test_done_marker_prevents_a_second_delivery(make_config, sink, start_app,
                                                      sync_redis):
    running = await start_app(config(make_config, sink))
    worker = running.app.retry_worker
    job = RetryJob.new("news@sender.example", "z@example.org", message(), False, False,
                       "<x@y>", "test", time.time())
    await running.app.bg_store.enqueue_retries([(job.id, job.to_json(), 0.0)])
    sync_redis.set(f"cs:retry:done:{job.id}", "1")  # delivered, crash before cleanup
    await wait_until(lambda: sync_redis.zcard("cs:retry:due") == 0, within=5,
                     what="job cleaned up")
    assert sink.received == [] and worker.delivered == 0


def html_newsletter() -> bytes:
    m = EmailMessage()
    m["From"] = "News <news@sender.example>"
    m["To"] = "list@example.org"
    m["Subject"] = "Frühlingsangebot"
    m["Message-ID"] = "<html-1@sender.example>"
    m["X-Consent-Class"] = "marketing"
    m.set_content("Grüße! Abmelden: siehe unten\n", charset="utf-8", cte="quoted-printable")
    m.add_alternative(
        ('<html><body><p>Grüße aus Köln</p>'
         '<a href="https://t.esp.example/c?url=https%3A%2F%2Fshop.example%2Fsale">Sale</a>'
         '<img src="https://t.esp.example/open/abc.gif" width="1" height="1">'
         '<p><a href="https://shop.example/abmelden">Abmelden</a></p></body></html>'
         ).encode("iso-8859-1"), maintype="text", subtype="html", cte="base64",
        params={"charset": "iso-8859-1"})
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


async def test_tracking_stripped_for_recipients_without_tracking_consent(
        make_config, sink, start_app):
    cfg = make_config(sink, policy=NO_BASIS, tracking={"hosts": ["t.esp.example"]})
    running = await start_app(cfg)
    code, text, _ = await send(running.port, ["a@example.org"], html_newsletter())
    assert code == 250, text
    got = email.message_from_bytes(sink.received[0].content, policy=email.policy.compat32)
    html_part = next(p for p in got.walk() if p.get_content_type() == "text/html")
    assert html_part["Content-Transfer-Encoding"] == "base64"
    payload = html_part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    html = payload.decode("iso-8859-1")
    assert "Grüße aus Köln" in html
    assert 'href="https://shop.example/sale"' in html
    assert "open/abc.gif" not in html
    (row,) = running.decisions()
    assert row["tracking"] is False
    kinds = sorted(r["kind"] for r in row["rewrite"]["tracking_removed"])
    assert kinds == ["pixel", "unwrapped"]


async def test_tracking_kept_only_for_the_recipient_with_tracking_consent(
        make_config, sink, start_app, sync_redis):
    now = time.time()
    sync_redis.hset("cs:addr:fan@example.org", "consent", json.dumps(
        {"type": "doi", "signup_at": now - 86400, "confirmed_at": now - 86000,
         "tracking": True, "source": "test"}))
    cfg = make_config(sink, policy=NO_BASIS, tracking={"hosts": ["t.esp.example"]})
    running = await start_app(cfg)
    code, text, _ = await send(running.port, ["fan@example.org", "other@example.org"],
                               html_newsletter())
    assert code == 250, text
    by = {m.rcpts[0]: m.content for m in sink.received}

    def html_of(content: bytes) -> str:
        got = email.message_from_bytes(content, policy=email.policy.compat32)
        part = next(p for p in got.walk() if p.get_content_type() == "text/html")
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode("iso-8859-1")

    assert "open/abc.gif" in html_of(by["fan@example.org"])  # consented: untouched
    assert "open/abc.gif" not in html_of(by["other@example.org"])
    rows = {d["recipient"]: d for d in running.decisions()}
    assert rows["fan@example.org"]["tracking"] is True
    assert rows["other@example.org"]["tracking"] is False
