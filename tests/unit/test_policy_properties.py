"""Properties of the pure policy over arbitrary recipient states (hypothesis):
  - no marketing message is ever allowed to a person with an active objection covering
    it, on this or any linked address, unless a DOI was confirmed after every such
    objection and new_doi_lifts_objection is on — whatever else the record holds;
  - a hard bounce stops every class;
  - tracking only with a recorded tracking consent, never under the customer exception.
"""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from consentry import address
from consentry.config import PolicyConfig
from consentry.model import (
    Consent,
    MessageFacts,
    PendingSignup,
    Purchase,
    RecipientState,
    Suppression,
    is_objection,
)
from consentry.policy import evaluate

NOW = 1_780_000_000.0
ME = address.parse("someone@example.org")
OTHER = ("old@example.net", "work@example.com")
REASONS = ("unsubscribe", "complaint", "objection", "admin", "hard_bounce", "soft_bounce",
           "unparseable")
SCOPES = ("global", "list:news", "list:offers")
LISTS = st.sampled_from([None, "news", "offers"])
times = st.floats(NOW - 4 * 365 * 86400, NOW + 86400, allow_nan=False)
opt_times = st.none() | times


def suppressions(addr: str) -> st.SearchStrategy[Suppression]:
    return st.builds(Suppression, address=st.just(addr), scope=st.sampled_from(SCOPES),
                     reason=st.sampled_from(REASONS), source=st.just("test"), at=times,
                     expires_at=st.none() | times)


consents = st.builds(
    Consent, address=st.just(ME.key), type=st.sampled_from(["doi", "coi", "soi", "xyz"]),
    signup_at=opt_times, confirmed_at=opt_times, tracking=st.booleans(),
    lists=st.lists(st.sampled_from(["news", "offers"]), max_size=2).map(tuple))
purchases = st.builds(
    Purchase, id=st.text("abc123", min_size=1, max_size=4), person=st.just("p"),
    address=st.sampled_from([ME.key, *OTHER]), at=times,
    status=st.sampled_from(["completed", "cancelled", "enquiry"]),
    kind=st.sampled_from(["paid", "freemium"]),
    categories=st.lists(st.sampled_from(["printer", "ink", "garden"]), max_size=2).map(tuple),
    address_collected=st.booleans(), objection_notice=st.booleans())


@st.composite
def states(draw: st.DrawFn) -> RecipientState:
    linked = tuple(draw(st.lists(st.sampled_from(OTHER), unique=True, max_size=2)))
    own = draw(st.lists(suppressions(ME.key), max_size=3))
    other = [s for k in linked for s in draw(st.lists(suppressions(k), max_size=3))]
    return RecipientState(
        address=ME, suppressions=tuple(own), person="p" if linked else None, linked=linked,
        linked_suppressions=tuple(other), consent=draw(st.none() | consents),
        pending=draw(st.none() | st.builds(PendingSignup, address=st.just(ME.key),
                                           signup_at=times)),
        purchases=tuple(draw(st.lists(purchases, max_size=3))))


policies = st.builds(
    PolicyConfig, require_basis=st.booleans(), accept_coi=st.booleans(),
    accept_soi=st.booleans(), new_doi_lifts_objection=st.booleans(),
    active_customer_months=st.integers(0, 48),
    similar_categories=st.just({"printer": ["ink"]}))
message_facts = st.builds(
    MessageFacts, message_class=st.sampled_from(["marketing", "newsletter", ""]),
    classified_by=st.just("test"), category=st.sampled_from([None, "printer", "ink"]),
    list_name=LISTS)


def lifted(state: RecipientState, s: Suppression, policy: PolicyConfig) -> bool:
    c = state.consent
    return (policy.new_doi_lifts_objection and c is not None and c.doi_evidence
            and c.confirmed_at is not None and c.confirmed_at > s.at)


@settings(max_examples=500, deadline=None)
@given(states(), message_facts, policies)
def test_no_marketing_to_an_objecting_person(state: RecipientState, facts: MessageFacts,
                                             policy: PolicyConfig) -> None:
    d = evaluate(state, facts, policy, NOW)
    if not d.allowed:
        return
    for s in (*state.suppressions, *state.linked_suppressions):
        if is_objection(s) and s.active(NOW) and s.covers_list(facts.list_name):
            assert lifted(state, s, policy), (s, d)
    assert not any(s.reason == "hard_bounce" and s.active(NOW) for s in state.suppressions)


@settings(max_examples=300, deadline=None)
@given(states(), message_facts, policies)
def test_person_wide_global_objection_without_later_doi_always_suppresses(
        state: RecipientState, facts: MessageFacts, policy: PolicyConfig) -> None:
    # Force an active global unsubscribe on a linked address (or the own one).
    target = state.linked[0] if state.linked else ME.key
    s = Suppression(target, "global", "unsubscribe", "reply", NOW - 10)
    if target == ME.key:
        state = dataclasses.replace(state, suppressions=(*state.suppressions, s))
    else:
        state = dataclasses.replace(state, linked_suppressions=(*state.linked_suppressions, s))
    d = evaluate(state, facts, policy, NOW)
    if not lifted(state, s, policy):
        assert d.verdict == "suppress"
        assert d.rule in ("hard_bounce", "soft_bounce", "objection")


@settings(max_examples=500, deadline=None)
@given(states(), st.sampled_from(["marketing", "transactional", "service",
                                  "doi-confirmation", "x"]), policies)
def test_hard_bounce_stops_every_class(state: RecipientState, cls: str,
                                       policy: PolicyConfig) -> None:
    hb = Suppression(ME.key, "global", "hard_bounce", "bounce", NOW - 5)
    state = dataclasses.replace(state, suppressions=(*state.suppressions, hb))
    d = evaluate(state, MessageFacts(cls, "test"), policy, NOW)
    assert (d.verdict, d.rule) == ("suppress", "hard_bounce")


@settings(max_examples=300, deadline=None)
@given(states(), message_facts, policies)
def test_tracking_needs_recorded_tracking_consent(state: RecipientState, facts: MessageFacts,
                                                  policy: PolicyConfig) -> None:
    d = evaluate(state, facts, policy, NOW)
    if d.tracking:
        assert d.allowed
        assert state.consent is not None and state.consent.tracking
    if d.rule == "customer_exception":
        assert not d.tracking
