"""A downstream that takes only so many recipients per transaction (Postfix's
smtpd_recipient_limit, RFC 5321 §4.5.3.1.8/10): `downstream.max_recipients` splits a
message into transactions of that size, the per-recipient-copy check is made in such
transactions too, and a "too many recipients" refusal is temporary (452, or 552 with
5.5.3) -- the client retries, nothing is delivered, nothing is refused for good."""

from __future__ import annotations

import json

from ..helpers.client import message, send
from ..helpers.state import NO_BASIS

RCPTS = [f"r{i}@example.org" for i in range(7)]


def _decisions(running) -> list[dict]:
    return [e for e in map(json.loads, running.log_path.read_text().splitlines())
            if e.get("event") == "decision"]


async def test_transactional_message_split_into_transactions_of_the_limit(
        make_config, sink, start_app):
    sink.control.max_rcpts = 3
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          downstream={"max_recipients": 3}))
    code, text, refused = await send(running.port, RCPTS, message(
        headers={"X-Consent-Class": "transactional"}, msgid="<split-1@sender.example>"))
    assert (code, refused) == (250, {}), text
    sizes = sorted(len(r.rcpts) for r in sink.received)
    assert sizes == [1, 3, 3]
    assert sorted(x for r in sink.received for x in r.rcpts) == sorted(RCPTS)
    assert len({r.sha256 for r in sink.received}) == 1  # the same content every time
    assert sorted(d["recipient"] for d in _decisions(running)
                  if d["verdict"] == "allow") == sorted(RCPTS)


async def test_per_recipient_copies_checked_in_transactions_of_the_limit(
        make_config, sink, start_app):
    # Marketing mail goes out as one copy per recipient (its own List-Unsubscribe); the
    # check of every RCPT before the first copy must not exceed the limit either.
    sink.control.max_rcpts = 3
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          downstream={"max_recipients": 3}))
    code, text, _ = await send(running.port, RCPTS, message(
        headers={"X-Consent-Class": "marketing"}, msgid="<split-2@sender.example>"))
    assert code == 250, text
    assert sorted(x for r in sink.received for x in r.rcpts) == sorted(RCPTS)
    assert all(len(r.rcpts) == 1 for r in sink.received)


async def test_over_the_downstream_limit_is_temporary_and_nothing_is_delivered(
        make_config, sink, start_app):
    sink.control.max_rcpts = 3  # but consentry was not told: default 100
    running = await start_app(make_config(sink, policy=NO_BASIS))
    code, _, _ = await send(running.port, RCPTS, message(
        headers={"X-Consent-Class": "transactional"}, msgid="<split-3@sender.example>"))
    assert code == 451
    assert sink.received == []


async def test_552_too_many_recipients_is_temporary_but_552_mailbox_full_is_not(
        make_config, sink, start_app):
    sink.control.max_rcpts = 3
    sink.control.too_many_reply = "552 5.5.3 Too many recipients"
    running = await start_app(make_config(sink, policy=NO_BASIS))
    code, _, _ = await send(running.port, RCPTS, message(
        headers={"X-Consent-Class": "transactional"}, msgid="<split-4@sender.example>"))
    assert code == 451  # RFC 5321 §4.5.3.1.10: not a refusal of those recipients
    assert sink.received == []

    sink.control.max_rcpts = None
    sink.control.rcpt_replies = {RCPTS[1]: "552 5.2.2 Mailbox full"}
    code, text, _ = await send(running.port, RCPTS[:3], message(
        headers={"X-Consent-Class": "transactional"}, msgid="<split-5@sender.example>"))
    assert code == 250, text
    assert sorted(sink.received[0].rcpts) == sorted([RCPTS[0], RCPTS[2]])
