"""Inbound verdicts written to a real Redis: hard bounce, N soft bounces in M days,
complaint, objection with the person's linked addresses, auto-reply (nothing)."""

from __future__ import annotations

import json
from pathlib import Path

from consentry.inbound.classify import classify
from consentry.inbound_apply import InboundActions
from consentry.store import Store

DATA = Path(__file__).resolve().parent.parent / "data"


def _supp(sync_redis, key: str) -> dict[str, dict]:
    return {k: json.loads(v) for k, v in sync_redis.hgetall(f"cs:supp:{key}").items()}


async def test_hard_bounce_suppresses_with_message_id_as_evidence(make_config, sync_redis):
    cfg = make_config()
    store = Store(cfg.redis, cfg.redis.url)
    try:
        v = classify((DATA / "bounces/lhost-postfix/lhost-postfix-14.eml").read_bytes())
        out = await InboundActions(cfg, store).apply(v, now=1_800_000_000.0)
    finally:
        await store.close()
    assert out.suppressed == ["kijitora@2jo.example.jp hard_bounce global"]
    s = _supp(sync_redis, "kijitora@2jo.example.jp")["global"]
    assert (s["reason"], s["source"]) == ("hard_bounce", "bounce")
    assert s["evidence"] == v.message_id


async def test_soft_bounces_count_then_pause(make_config, sync_redis):
    cfg = make_config(inbound={"soft_bounce_limit": 3, "soft_bounce_window_days": 14,
                               "soft_bounce_suppress_days": 30})
    raw = (DATA / "bounces/lhost-amazonworkmail/lhost-amazonworkmail-04.eml").read_bytes()
    v = classify(raw)
    assert v.kind == "bounce" and {r["class"] for r in v.recipients} == {"soft"}
    key = v.recipients[0]["address"].lower()
    store = Store(cfg.redis, cfg.redis.url)
    t0 = 1_800_000_000.0
    try:
        acts = InboundActions(cfg, store)
        # one soft bounce long ago falls out of the 14-day window
        await acts.apply(v, now=t0 - 20 * 86400)
        first = await acts.apply(v, now=t0)
        second = await acts.apply(v, now=t0 + 86400)
        assert first.suppressed == [] and second.suppressed == []
        third = await acts.apply(v, now=t0 + 2 * 86400)
    finally:
        await store.close()
    assert third.soft_counted == [f"{key} 3/3"]
    s = _supp(sync_redis, key)["global"]
    assert s["reason"] == "soft_bounce"
    assert s["expires_at"] == t0 + 2 * 86400 + 30 * 86400


async def test_objection_covers_linked_addresses_and_autoreply_nothing(make_config,
                                                                      sync_redis):
    cfg = make_config()
    raw = (DATA / "replies/022.eml").read_bytes()
    v = classify(raw)
    sender = v.sender.lower()
    sync_redis.hset(f"cs:addr:{sender}", mapping={"person": "p1",
                                                  "linked": json.dumps(["k.lange@home.example"])})
    store = Store(cfg.redis, cfg.redis.url)
    try:
        acts = InboundActions(cfg, store)
        out = await acts.apply(v, now=1_800_000_000.0)
        auto = await acts.apply(classify((DATA / "replies/010.eml").read_bytes()))
    finally:
        await store.close()
    assert sorted(out.suppressed) == sorted([f"{sender} objection global",
                                             "k.lange@home.example objection global"])
    assert _supp(sync_redis, "k.lange@home.example")["global"]["source"] == "reply"
    assert auto.suppressed == [] and auto.soft_counted == []


async def test_complaint_suppresses(make_config, sync_redis):
    cfg = make_config()
    v = classify((DATA / "bounces/arf/arf-14.eml").read_bytes())
    store = Store(cfg.redis, cfg.redis.url)
    try:
        out = await InboundActions(cfg, store).apply(v)
    finally:
        await store.close()
    assert out.suppressed == ["kijitora@y.example.com complaint global"]


async def test_an_objection_for_the_quoted_newsletter_s_recipient_suppresses_that_address(
        make_config, sync_redis):
    """A colleague forwards our newsletter to Hannah and asks to take her off the list:
    Hannah's address is suppressed, the colleague's own is not."""
    body = ("Could you please remove our former colleague Hannah (hannah@brightpath.example) "
            "from your mailing list?\r\n\r\nMarcus\r\n\r\n---------- Forwarded message "
            "---------\r\nFrom: Taskwerk <news@mail.taskwerk.example>\r\nSubject: What's new"
            "\r\nTo: Hannah L <hannah@brightpath.example>\r\n\r\nHi Hannah.\r\n")
    raw = ("From: Marcus <support@brightpath.example>\r\nTo: news@mail.taskwerk.example\r\n"
           "Subject: FW: What's new\r\nMessage-ID: <f1@brightpath.example>\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()
    cfg = make_config()
    store = Store(cfg.redis, cfg.redis.url)
    try:
        out = await InboundActions(cfg, store).apply(classify(raw), now=1_800_000_000.0)
    finally:
        await store.close()
    assert out.suppressed == ["hannah@brightpath.example objection global"]
    assert "recipient named in the objection and on the quoted newsletter" in out.notes
    assert _supp(sync_redis, "support@brightpath.example") == {}
