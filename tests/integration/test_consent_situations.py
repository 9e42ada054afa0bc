"""Issue 3, table-driven: each situation loads a real Redis through the import path,
reads it back with `Store.recipient_states` and asserts verdict, deciding rule and the
tracking flag of the pure policy's Decision."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from consentry import address
from consentry.config import Config
from consentry.model import MessageFacts
from consentry.policy import evaluate
from consentry.store import Store

from ..helpers.consentload import NOW, ago, doi, link, load, pending, purchase, supp

W, P = "maria@work.example", "maria.private@example.de"  # two addresses of person p1
SIM = {"similar_categories": {"printer": ["ink", "toner"]}}


@dataclass(frozen=True)
class Case:
    name: str
    expect: tuple[str, str, bool]  # verdict, rule, tracking
    rcpt: str = W
    records: list[dict[str, Any]] = field(default_factory=list)
    suppressions: list[dict[str, Any]] = field(default_factory=list)
    cls: str = "marketing"
    category: str | None = None
    lst: str | None = None
    policy: dict[str, Any] = field(default_factory=dict)
    purge: bool = False  # run the DOI purge before deciding


ALLOW, SUPP = "allow", "suppress"
HB = [supp(W, "hard_bounce")]
CUSTOMER = [link(W), link(P), purchase(W, categories=("printer",))]

CASES: list[Case] = [
    # 1. hard bounce stops every class
    Case("hard bounce stops marketing despite DOI", (SUPP, "hard_bounce", False),
         records=[doi(W, tracking=True)], suppressions=HB),
    Case("hard bounce stops transactional", (SUPP, "hard_bounce", False),
         suppressions=HB, cls="transactional"),
    Case("hard bounce stops service", (SUPP, "hard_bounce", False),
         suppressions=HB, cls="service"),
    Case("hard bounce stops the DOI confirmation mail", (SUPP, "hard_bounce", False),
         records=[pending(W)], suppressions=HB, cls="doi-confirmation"),
    Case("hard bounce on a linked address stops nothing", (ALLOW, "consent_basis", False),
         records=[link(W), link(P), doi(W)], suppressions=[supp(P, "hard_bounce")]),
    # 2. transactional and service ignore objections
    Case("unsubscribed still gets transactional", (ALLOW, "non_advertising", False),
         suppressions=[supp(W)], cls="transactional"),
    Case("complainer still gets service mail", (ALLOW, "non_advertising", False),
         suppressions=[supp(W, "complaint")], cls="service"),
    Case("transactional carries tracking only with tracking consent",
         (ALLOW, "non_advertising", True), records=[doi(W, tracking=True)],
         cls="transactional"),
    Case("transactional without any record", (ALLOW, "non_advertising", False),
         cls="transactional"),
    # 3. DOI confirmation mails
    Case("fresh pending sign-up gets its confirmation", (ALLOW, "doi_confirmation", False),
         records=[pending(W, signed=1, tracking=True)], cls="doi-confirmation"),
    Case("pending sign-up 6.9 days old still gets it", (ALLOW, "doi_confirmation", False),
         records=[pending(W, signed=6.9)], cls="doi-confirmation"),
    Case("pending sign-up past 7 days expired", (SUPP, "doi_confirmation", False),
         records=[pending(W, signed=7.1)], cls="doi-confirmation"),
    Case("shorter doi_pending_days applies", (SUPP, "doi_confirmation", False),
         records=[pending(W, signed=3)], cls="doi-confirmation",
         policy={"doi_pending_days": 2}),
    Case("new sign-up after an objection gets its confirmation",
         (ALLOW, "doi_confirmation", False), records=[pending(W, signed=1)],
         suppressions=[supp(W, days=30)], cls="doi-confirmation"),
    Case("no pending sign-up: no confirmation mail", (SUPP, "doi_confirmation", False),
         cls="doi-confirmation"),
    Case("purged expired sign-up: no confirmation mail", (SUPP, "doi_confirmation", False),
         records=[pending(W, signed=8)], cls="doi-confirmation", purge=True),
    Case("fresh sign-up survives the purge", (ALLOW, "doi_confirmation", False),
         records=[pending(W, signed=2)], cls="doi-confirmation", purge=True),
    Case("a pending (unconfirmed) DOI is no basis for marketing", (SUPP, "no_basis", False),
         records=[pending(W, signed=1, tracking=True)]),
    # 4. unknown class counts as marketing
    Case("unknown class without basis is marketing", (SUPP, "no_basis", False),
         cls="newsletter"),
    Case("unknown class with DOI is allowed as marketing", (ALLOW, "consent_basis", True),
         records=[doi(W, tracking=True)], cls="newsletter"),
    # 5. objections: person-wide, scopes, lifting
    Case("own global objection beats DOI", (SUPP, "objection", False),
         records=[doi(W, signed=60, tracking=True)], suppressions=[supp(W, days=10)]),
    Case("objection on a linked address beats the recipient's older DOI",
         (SUPP, "objection", False),
         records=[link(W), link(P), doi(W, signed=60)], suppressions=[supp(P, days=10)]),
    Case("objection on a linked address beats the customer exception",
         (SUPP, "objection", False), records=CUSTOMER, category="printer",
         suppressions=[supp(P, "complaint", days=3)]),
    Case("list objection stops that list", (SUPP, "objection", False),
         records=[doi(W, signed=60)], suppressions=[supp(W, scope="list:news")], lst="news"),
    Case("list objection leaves other lists", (ALLOW, "consent_basis", False),
         records=[doi(W, signed=60)], suppressions=[supp(W, scope="list:news")],
         lst="offers"),
    Case("list objection leaves mail without a list", (ALLOW, "consent_basis", False),
         records=[doi(W, signed=60)], suppressions=[supp(W, scope="list:news")]),
    Case("list objection on a linked address stops that list", (SUPP, "objection", False),
         records=[link(W), link(P), doi(W, signed=60)],
         suppressions=[supp(P, scope="list:news")], lst="news"),
    Case("list objection matches case-insensitively", (SUPP, "objection", False),
         records=[doi(W, signed=60)], suppressions=[supp(W, scope="list:News")], lst="news"),
    Case("DOI confirmed after the objection lifts it", (ALLOW, "consent_basis", True),
         records=[doi(W, signed=2, tracking=True)], suppressions=[supp(W, days=30)]),
    Case("DOI after the objection does not lift it when configured off",
         (SUPP, "objection", False), records=[doi(W, signed=2)],
         suppressions=[supp(W, days=30)], policy={"new_doi_lifts_objection": False}),
    Case("DOI confirmed before the objection does not lift it", (SUPP, "objection", False),
         records=[doi(W, signed=60)], suppressions=[supp(W, days=30)]),
    Case("new DOI lifts a linked address's earlier objection for this address",
         (ALLOW, "consent_basis", False),
         records=[link(W), link(P), doi(W, signed=2)], suppressions=[supp(P, days=30)]),
    Case("a later purchase never lifts an objection", (SUPP, "objection", False),
         records=[link(W), purchase(W, days=1)], suppressions=[supp(W, days=30)],
         category="printer"),
    Case("a COI after the objection does not lift it", (SUPP, "objection", False),
         records=[{"address": W, "type": "coi", "signup_at": ago(1)}],
         suppressions=[supp(W, days=30)], policy={"accept_coi": True}),
    Case("active soft-bounce pause stops marketing", (SUPP, "soft_bounce", False),
         records=[doi(W)], suppressions=[supp(W, "soft_bounce", days=1,
                                              expires_at=ago(-3))]),
    Case("expired soft-bounce pause no longer counts", (ALLOW, "consent_basis", False),
         records=[doi(W)], suppressions=[supp(W, "soft_bounce", days=10, expires_at=ago(3))]),
    # 6. role accounts
    Case("role account with accepted COI still needs a DOI", (SUPP, "role_account", False),
         rcpt="info@example.com", records=[{"address": "info@example.com", "type": "coi"}],
         policy={"accept_coi": True}),
    Case("role account with DOI is allowed", (ALLOW, "consent_basis", True),
         rcpt="vertrieb@example.com", records=[doi("vertrieb@example.com", tracking=True)]),
    Case("role account under the customer exception is not allowed",
         (SUPP, "role_account", False), rcpt="office@example.com",
         records=[purchase("office@example.com")], category="printer"),
    Case("role account in another case and with a plus tag", (SUPP, "role_account", False),
         rcpt="Sales+Q3@Example.com"),
    Case("custom role list replaces the default", (ALLOW, "consent_basis", False),
         rcpt="info@example.com", records=[{"address": "info@example.com", "type": "soi"}],
         policy={"role_accounts": ["news"], "accept_soi": True}),
    # 7. consent basis
    Case("DOI without tracking consent: allowed, tracking off", (ALLOW, "consent_basis", False),
         records=[doi(W, tracking=False)]),
    Case("DOI without sign-up time is no evidence", (SUPP, "no_basis", False),
         records=[{"address": W, "type": "doi", "confirmed_at": ago(3), "tracking": True}]),
    Case("COI is no basis by default", (SUPP, "no_basis", False),
         records=[{"address": W, "type": "coi", "signup_at": ago(3), "tracking": True}]),
    Case("COI counts with accept_coi", (ALLOW, "consent_basis", True),
         records=[{"address": W, "type": "coi", "signup_at": ago(3), "tracking": True}],
         policy={"accept_coi": True}),
    Case("SOI is no basis by default", (SUPP, "no_basis", False),
         records=[{"address": W, "type": "soi", "signup_at": ago(3)}]),
    Case("SOI counts with accept_soi", (ALLOW, "consent_basis", False),
         records=[{"address": W, "type": "soi", "signup_at": ago(3)}],
         policy={"accept_soi": True}),
    Case("DOI for list news covers news", (ALLOW, "consent_basis", False),
         records=[doi(W, lists=["news"])], lst="news"),
    Case("DOI for list news does not cover offers", (SUPP, "no_basis", False),
         records=[doi(W, lists=["news"])], lst="offers"),
    Case("DOI for list news does not cover a message without list", (SUPP, "no_basis", False),
         records=[doi(W, lists=["news"])]),
    Case("DOI confirmed after the decision time does not count yet", (SUPP, "no_basis", False),
         records=[doi(W, signed=2, confirmed=-1)]),
    # 8. the existing-customer exception
    Case("all four conditions in the window", (ALLOW, "customer_exception", False),
         records=CUSTOMER, category="printer"),
    Case("customer exception never tracks, even with a (non-basis) tracking consent",
         (ALLOW, "customer_exception", False),
         records=[*CUSTOMER, {"address": W, "type": "soi", "tracking": True}],
         category="printer"),
    Case("similar category from the map", (ALLOW, "customer_exception", False),
         records=CUSTOMER, category="ink", policy=SIM),
    Case("similarity is not symmetric", (SUPP, "no_basis", False),
         records=[link(W), purchase(W, categories=("ink",))], category="printer", policy=SIM),
    Case("unrelated category", (SUPP, "no_basis", False), records=CUSTOMER,
         category="garden", policy=SIM),
    Case("no category on the message", (SUPP, "no_basis", False), records=CUSTOMER),
    Case("cancelled order does not count", (SUPP, "no_basis", False),
         records=[purchase(W, status="cancelled")], category="printer"),
    Case("mere enquiry does not count", (SUPP, "no_basis", False),
         records=[purchase(W, status="enquiry")], category="printer"),
    Case("completed freemium contract counts", (ALLOW, "customer_exception", False),
         records=[purchase(W, kind="freemium")], category="printer"),
    Case("address not collected with the sale", (SUPP, "no_basis", False),
         records=[purchase(W, collected=False)], category="printer"),
    Case("no objection notice at collection", (SUPP, "no_basis", False),
         records=[purchase(W, notice=False)], category="printer"),
    Case("purchase made with the linked address does not cover this one",
         (SUPP, "no_basis", False), rcpt=P, records=CUSTOMER, category="printer"),
    Case("a cancelled order beside a completed one: the completed counts",
         (ALLOW, "customer_exception", False),
         records=[purchase(W, status="cancelled", days=5, pid="o2"),
                  purchase(W, days=100, pid="o1")], category="printer"),
    Case("a later cancellation of the same order replaces it", (SUPP, "no_basis", False),
         records=[purchase(W, pid="o1"), purchase(W, pid="o1", status="cancelled")],
         category="printer"),
    Case("window edge: one day inside 24 months", (ALLOW, "customer_exception", False),
         records=[purchase(W, months=24, days=-1)], category="printer"),
    Case("window edge: exactly 24 months", (ALLOW, "customer_exception", False),
         records=[purchase(W, months=24, days=0)], category="printer"),
    Case("window edge: one day past 24 months", (SUPP, "no_basis", False),
         records=[purchase(W, months=24, days=1)], category="printer"),
    Case("shorter active window", (SUPP, "no_basis", False),
         records=[purchase(W, months=13, days=0)], category="printer",
         policy={"active_customer_months": 12}),
    Case("purchase after the decision time does not count", (SUPP, "no_basis", False),
         records=[purchase(W, days=-2)], category="printer"),
    # address forms: case, IDN, plus tags
    Case("DOI stored in capitals covers the plus-tagged lower-case form",
         (ALLOW, "consent_basis", True), rcpt="max.mustermann+promo@example.org",
         records=[doi("Max.Mustermann@Example.ORG", tracking=True)]),
    Case("objection on the IDN U-label stops the A-label plus form",
         (SUPP, "objection", False), rcpt="max+x@XN--BCHER-KVA.de",
         records=[doi("max@xn--bcher-kva.de", signed=90)],
         suppressions=[supp("MAX@bücher.de", days=5)]),
    Case("consent on the IDN U-label covers the A-label", (ALLOW, "consent_basis", False),
         rcpt="max@XN--BCHER-KVA.DE", records=[doi("max@bücher.de")]),
    Case("linked via a differently spelt address", (SUPP, "objection", False),
         rcpt="Maria@Work.Example", records=[link("MARIA@work.example"), link(P), doi(W)],
         suppressions=[supp("maria.private+shop@EXAMPLE.de", days=1)]),
    # objection-only mode (require_basis false)
    Case("objection-only mode: no record is fine", (ALLOW, "no_basis", False),
         policy={"require_basis": False}),
    Case("objection-only mode: linked objection still suppresses", (SUPP, "objection", False),
         records=[link(W), link(P)], suppressions=[supp(P)], policy={"require_basis": False}),
    Case("objection-only mode: DOI gives tracking", (ALLOW, "consent_basis", True),
         records=[doi(W, tracking=True)], policy={"require_basis": False}),
    Case("objection-only mode: role accounts not checked", (ALLOW, "no_basis", False),
         rcpt="info@example.com", policy={"require_basis": False}),
    Case("objection-only mode: confirmation mail without pending record",
         (ALLOW, "doi_confirmation", False), cls="doi-confirmation",
         policy={"require_basis": False}),
]


def test_enough_distinct_situations() -> None:
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names)
    assert len(CASES) >= 40


@pytest.fixture
async def store(make_config: Callable[..., Config], redis_url: str) -> AsyncIterator[Store]:
    cfg = make_config()
    st = Store(cfg.redis, redis_url)
    await st.init_epoch()
    yield st
    await st.close()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_situation(case: Case, store: Store, make_config: Callable[..., Config],
                         sync_redis: Any) -> None:
    cfg = make_config(policy=case.policy)
    await load(store, cfg, case.records, case.suppressions)
    if case.purge:
        await store.purge_pending(NOW - cfg.policy.doi_pending_days * 86400, actor="test")
    a = address.parse(case.rcpt)
    (state,) = await store.recipient_states([a])
    facts = MessageFacts(message_class=case.cls, classified_by="test",
                         category=case.category, list_name=case.lst)
    d = evaluate(state, facts, cfg.policy, NOW)
    assert (d.verdict, d.rule, d.tracking) == case.expect, (d.reasons, d.facts)
    assert d.reasons, "every decision explains itself"
    if d.rule == "objection" and state.linked and d.facts["suppression"].get("linked"):
        assert d.facts["suppression"]["address"] in state.linked
        assert "linked address" in d.reasons[1]
