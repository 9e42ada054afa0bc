"""Outgoing VERP (inbound.verp): every per-recipient marketing copy leaves with MAIL FROM
bounces+TOKEN@inbound.domain, a bounce token whose reference is stored with the
List-Unsubscribe one; a bounce to it identifies the recipient even when its body says
nothing; the client's sender stays in the decision log and gets our own DSNs."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from consentry import config as config_mod
from consentry.errors import ConfigError
from consentry.keyfiles import token_codec
from consentry.tokens import TokenRef, find_token

from ..helpers.client import message, send
from ..helpers.state import NO_BASIS
from ..helpers.waits import wait_until
from .test_copies_retry import fail_data_for

DOMAIN = "bounce.shop.test"
MARKETING = {"X-Consent-Class": "marketing", "X-Consent-List": "news",
             "X-Campaign-Id": "spring26"}
RCPTS = ["a@example.org", "b@example.org"]


def verp_config(make_config: Any, sink: Any, verp: bool = True, **extra: Any) -> Any:
    inbound = {"enabled": True, "listen": ["127.0.0.1:0"], "domain": DOMAIN, "verp": verp,
               "soft_bounce_limit": 1, **extra.pop("inbound", {})}
    return make_config(sink, policy=NO_BASIS, inbound=inbound,
                       unsubscribe={"mailto_domain": "shop.test"},
                       retry={"initial_delay": 0.2, "max_delay": 0.5, "poll_interval": 0.1,
                              **extra.pop("retry", {})},
                       **extra)


async def _resolve(running: Any, mail_from: str) -> TokenRef:
    local, _, domain = mail_from.rpartition("@")
    assert domain == DOMAIN
    token = find_token(local, "bounces")
    assert token is not None, mail_from
    claims = token_codec(running.app.cfg).verify(token, time.time(), purpose="bounce")
    raw = await running.app.store.resolve_token_ref(claims.ref)
    assert raw is not None
    return TokenRef.from_json(claims.ref, raw)


async def test_marketing_copies_leave_with_a_per_recipient_verp_sender(
        make_config, sink, start_app):
    running = await start_app(verp_config(make_config, sink))
    code, text, _ = await send(running.port, RCPTS, message(headers=MARKETING))
    assert code == 250, text
    assert sorted(sink.delivered_to()) == RCPTS
    senders = {}
    for m in sink.received:
        (rcpt,) = m.rcpts
        assert m.mail_from.startswith("bounces+") and len(m.mail_from.partition("@")[0]) <= 64
        ref = await _resolve(running, m.mail_from)
        assert (ref.recipient, ref.scope, ref.campaign) == (rcpt, "list:news", "spring26")
        senders[rcpt] = m.mail_from
    assert senders["a@example.org"] != senders["b@example.org"]
    # The client's envelope sender is what the decision log records.
    assert {d["mail_from"] for d in running.decisions()} == {"news@sender.example"}


async def test_single_recipient_marketing_mail_gets_the_verp_sender_too(
        make_config, sink, start_app):
    running = await start_app(verp_config(make_config, sink))
    code, _, _ = await send(running.port, ["a@example.org"], message(headers=MARKETING))
    assert code == 250
    (m,) = sink.received
    assert (await _resolve(running, m.mail_from)).recipient == "a@example.org"


async def test_verp_off_keeps_mail_from(
        make_config, sink, start_app):
    running = await start_app(verp_config(make_config, sink, verp=False))
    code, _, _ = await send(running.port, RCPTS, message(headers=MARKETING))
    assert code == 250
    assert [m.mail_from for m in sink.received] == ["news@sender.example"] * 2


async def test_transactional_and_null_sender_mail_are_not_rewritten(
        make_config, sink, start_app):
    running = await start_app(verp_config(make_config, sink))
    code, _, _ = await send(running.port, RCPTS,
                            message(headers={"X-Consent-Class": "transactional"}))
    assert code == 250
    code, _, _ = await send(running.port, RCPTS, message(headers=MARKETING), mail_from="")
    assert code == 250
    assert [m.mail_from for m in sink.received] == ["news@sender.example", "<>", "<>"]


async def test_unreadable_bounce_to_the_verp_sender_stops_the_next_marketing_mail(
        make_config, sink, start_app, sync_redis):
    running = await start_app(verp_config(make_config, sink))
    code, _, _ = await send(running.port, RCPTS, message(headers=MARKETING))
    assert code == 250
    verp = next(m.mail_from for m in sink.received if m.rcpts == ["b@example.org"])
    # What some MTAs send back: a report without DSN parts and without any address.
    junk = (b"From: MAILER-DAEMON@mx.example.net\r\nTo: " + verp.encode() + b"\r\n"
            b"Subject: Undelivered Mail Returned to Sender\r\n"
            b"Message-ID: <junk-1@mx.example.net>\r\n\r\n"
            b"\x1b$B%a!<%k$rG[?.$G$-$^$;$s$G$7$?\x1b(B\r\n#### 0x2f 0x00 ####\r\n")
    code, text, _ = await send(running.app.inbound.ports[0], [verp], junk, mail_from="")
    assert code == 250, text
    await wait_until(lambda: sync_redis.hget("cs:supp:b@example.org", "global") is not None,
                     within=10, what="suppression from the VERP token")
    supp = json.loads(sync_redis.hget("cs:supp:b@example.org", "global"))
    # Without a status the token's recipient is counted as a soft bounce (inbound_apply);
    # soft_bounce_limit 1 here, so the first one suppresses (default 3 within 14 days).
    assert (supp["reason"], supp["source"]) == ("soft_bounce", "bounce")
    assert supp["evidence"] == "<junk-1@mx.example.net>"
    assert sync_redis.hget("cs:supp:a@example.org", "global") is None
    before = len(sink.received)
    code, _, _ = await send(running.port, RCPTS, message(headers=MARKETING))
    assert code == 250
    assert [m.rcpts for m in sink.received[before:]] == [["a@example.org"]]
    rows = [d for d in running.decisions() if d["recipient"] == "b@example.org"]
    assert rows[-1]["verdict"] != "allow" and rows[-1]["rule"] == supp["reason"]


async def test_retry_job_keeps_the_verp_sender_and_the_dsn_goes_to_the_client_sender(
        make_config, sink, start_app, sync_redis, monkeypatch):
    fail_data_for(monkeypatch, "b@example.org", ["451 4.3.0 busy", "550 5.1.1 no such user"])
    running = await start_app(verp_config(make_config, sink))
    code, _, _ = await send(running.port, RCPTS, message(headers=MARKETING))
    assert code == 250
    a_from = next(m.mail_from for m in sink.received if m.rcpts == ["a@example.org"])
    assert (await _resolve(running, a_from)).recipient == "a@example.org"
    await wait_until(lambda: "news@sender.example" in sink.delivered_to(),
                     within=10, what="DSN for b's refused retry")
    dsn = next(m for m in sink.received if m.rcpts == ["news@sender.example"])
    assert b"b@example.org" in dsn.content
    assert not any(r.startswith("bounces+") for r in sink.delivered_to())


async def test_retry_job_records_both_senders(make_config, sink, start_app, sync_redis,
                                              monkeypatch):
    fail_data_for(monkeypatch, "b@example.org", ["451 4.3.0 busy"])
    running = await start_app(verp_config(make_config, sink, retry={
        "initial_delay": 30, "max_delay": 30, "poll_interval": 0.1}))
    code, _, _ = await send(running.port, RCPTS, message(headers=MARKETING))
    assert code == 250
    (job_id,) = sync_redis.zrange("cs:retry:due", 0, -1)
    job = json.loads(sync_redis.get(f"cs:retry:job:{job_id}"))
    assert job["sender"] == "news@sender.example"
    assert (await _resolve(running, job["mail_from"])).recipient == "b@example.org"


def test_verp_without_a_domain_is_refused_naming_the_key(tmp_path):
    with pytest.raises(ConfigError) as exc:
        config_mod.from_mapping({"inbound": {"verp": True}}, base_dir=str(tmp_path))
    assert exc.value.key == "inbound.verp"
    with pytest.raises(ConfigError) as exc:
        config_mod.from_mapping({"inbound": {"verp": True, "domain": DOMAIN,
                                             "verp_local": "a" * 16}},
                                base_dir=str(tmp_path))
    assert exc.value.key == "inbound.verp_local"

