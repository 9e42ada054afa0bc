"""End to end through the SMTP listener with the default policy (require_basis true):
an objection on one address of a person suppresses the person's other addresses."""

from __future__ import annotations

import time
from typing import Any

from consentry.store import Store, SuppressionRecord

from ..helpers.client import message, send
from ..helpers.consentload import doi, link, load


async def test_linked_address_objection_suppresses_through_the_relay(
        make_config: Any, sink: Any, start_app: Any, redis_url: str) -> None:
    cfg = make_config(sink)
    running = await start_app(cfg)
    store = Store(cfg.redis, redis_url)
    try:
        await load(store, cfg, [
            link("maria@work.example", "cust-7"), link("maria@home.example", "cust-7"),
            doi("maria@work.example", signed=200, tracking=True),
            doi("other@example.org", signed=50, tracking=True),
            # the relay decides on the real clock: a sign-up ten minutes ago
            {"address": "again@example.org", "type": "doi", "signup_at": time.time() - 600},
        ])
        # The objection arrives on the *private* address, after the relay started.
        await store.add_suppression(SuppressionRecord(
            "maria@home.example", "global", "objection", "reply", time.time()), actor="test")
        await store.add_suppression(SuppressionRecord(
            "again@example.org", "global", "unsubscribe", "one-click", time.time() - 86400),
            actor="test")
    finally:
        await store.close()

    code, text, _ = await send(
        running.port, ["Maria@Work.example", "other@example.org", "stranger@example.org"],
        message(headers={"X-Consent-Class": "marketing", "X-Consent-Category": "ink"}))
    assert code == 250, text
    assert sink.delivered_to() == ["other@example.org"]
    rows = {d["recipient"]: d for d in running.decisions()}
    maria = rows["Maria@Work.example"]
    assert (maria["verdict"], maria["rule"], maria["tracking"]) == ("suppress", "objection",
                                                                    False)
    assert maria["facts"]["suppression"]["address"] == "maria@home.example"
    assert maria["facts"]["suppression"]["linked"] is True
    assert maria["facts"]["person"] == "cust-7"
    other = rows["other@example.org"]
    assert (other["verdict"], other["rule"], other["tracking"]) == ("allow", "consent_basis",
                                                                    True)
    assert other["facts"]["consent"]["type"] == "doi"
    stranger = rows["stranger@example.org"]
    assert (stranger["verdict"], stranger["rule"]) == ("suppress", "no_basis")

    # A DOI confirmation mail still reaches a fresh sign-up that objected before.
    code, text, _ = await send(
        running.port, ["again@example.org", "stranger@example.org"],
        message(headers={"X-Consent-Class": "doi-confirmation"}, msgid="<doi-1@s.example>"))
    assert code == 250, text
    assert sink.delivered_to()[-1:] == ["again@example.org"]
    rows = {d["recipient"]: d for d in running.decisions() if d["message_id"] ==
            "<doi-1@s.example>"}
    assert rows["again@example.org"]["rule"] == "doi_confirmation"
    assert rows["again@example.org"]["verdict"] == "allow"
    assert rows["stranger@example.org"]["verdict"] == "suppress"
