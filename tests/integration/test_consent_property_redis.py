"""Hypothesis through real Redis and the import path: whatever a person's records hold
(consents of every type, purchases, lists, other suppressions), an active objection on any
of the person's addresses suppresses marketing to every one of them, unless that address's
own DOI was confirmed after the objection (new_doi_lifts_objection)."""

from __future__ import annotations

import asyncio
from typing import Any

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry import address, config
from consentry.model import MessageFacts
from consentry.policy import evaluate
from consentry.store import Store

from ..helpers.consentload import NOW, ago, load, purchase, supp
from ..helpers.redis_proc import RedisProc

ADDRS = ["a@one.example", "A+tag@two.example", "b@three.example", "info@four.example"]


@st.composite
def person_records(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, len(ADDRS)))
    addrs = ADDRS[:n]
    records: list[dict[str, Any]] = [{"link": {"person": "p", "address": a}} for a in addrs]
    for a in addrs:
        kind = draw(st.sampled_from(["none", "doi", "coi", "soi"]))
        if kind != "none":
            signed = draw(st.floats(1, 400))
            r: dict[str, Any] = {"address": a, "type": kind, "signup_at": ago(signed),
                                 "tracking": draw(st.booleans()),
                                 "lists": draw(st.sampled_from([[], ["news"]]))}
            if kind == "doi":
                r["confirmed_at"] = ago(signed - draw(st.floats(0, 0.9)))
            records.append(r)
        if draw(st.booleans()):
            records.append(purchase(a, "p", days=draw(st.floats(-5, 900)),
                                    status=draw(st.sampled_from(["completed", "cancelled",
                                                                 "enquiry"])),
                                    collected=draw(st.booleans()), notice=draw(st.booleans()),
                                    categories=("printer",)))
    objector = draw(st.sampled_from(addrs))
    suppressions = [supp(objector, draw(st.sampled_from(["unsubscribe", "complaint",
                                                         "objection"])),
                         scope=draw(st.sampled_from(["global", "list:news"])),
                         days=draw(st.floats(0.5, 300)))]
    if draw(st.booleans()):
        suppressions.append(supp(draw(st.sampled_from(addrs)), "soft_bounce", days=1,
                                 expires_at=ago(draw(st.floats(-5, 5)))))
    return {"addrs": addrs, "records": records, "suppressions": suppressions,
            "policy": {"accept_coi": draw(st.booleans()), "accept_soi": draw(st.booleans()),
                       "require_basis": draw(st.booleans()),
                       "new_doi_lifts_objection": draw(st.booleans())},
            "list": draw(st.sampled_from([None, "news"])),
            "category": draw(st.sampled_from([None, "printer"]))}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(person_records())
def test_objection_on_any_address_covers_the_person(redis_proc: RedisProc,
                                                    case: dict[str, Any]) -> None:
    r = redis.Redis.from_url(redis_proc.url)
    r.flushall()
    r.close()
    cfg = config.from_mapping({"redis": {"embedded": False, "url": redis_proc.url,
                                         "deadline_ms": 2000},
                               "policy": case["policy"]})

    async def run() -> list[Any]:
        store = Store(cfg.redis, redis_proc.url)
        try:
            await store.init_epoch()
            await load(store, cfg, case["records"], case["suppressions"])
            return await store.recipient_states([address.parse(a) for a in case["addrs"]])
        finally:
            await store.close()

    states = asyncio.run(run())
    objection = case["suppressions"][0]
    covers = objection["scope"] == "global" or case["list"] == "news"
    facts = MessageFacts("marketing", "test", category=case["category"],
                         list_name=case["list"])
    for state in states:
        d = evaluate(state, facts, cfg.policy, NOW)
        c = state.consent
        obj_at = next(s.at for s in (*state.suppressions, *state.linked_suppressions)
                      if s.reason == objection["reason"] and s.scope == objection["scope"])
        lifted = (cfg.policy.new_doi_lifts_objection and c is not None and c.doi_evidence
                  and c.confirmed_at is not None and c.confirmed_at > obj_at
                  and c.covers_list(case["list"]))
        if covers and not lifted:
            assert d.verdict == "suppress", (state.address.raw, d)
            assert d.rule in ("objection", "soft_bounce")
        if d.allowed and d.tracking:
            assert c is not None and c.tracking
