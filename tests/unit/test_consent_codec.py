"""consent.py: what another tool wrote badly never becomes a basis; import records parse
as documented; the batch planner links persons both ways."""

from __future__ import annotations

import json

import pytest

from consentry import address
from consentry.config import PolicyConfig
from consentry.consent import (
    ConsentLine,
    LinkLine,
    RecordError,
    consent_record,
    decode_address_hash,
    parse_time,
    plan_consent_batch,
    suppression_record,
)
from consentry.model import MessageFacts, RecipientState
from consentry.policy import evaluate

P = address.parse


def test_unreadable_values_are_problems_never_a_basis() -> None:
    info = decode_address_hash("a@x.example", {
        "consent": "{not json", "pending": '{"signup_ip": "1.2.3.4"}',
        "purchase:o1": "[]", "person": "p"})
    assert info.consent is None and info.pending is None and info.purchases == ()
    assert len(info.problems) == 3
    st = RecipientState(address=P("a@x.example"), consent=info.consent,
                        problems=info.problems)
    d = evaluate(st, MessageFacts("marketing", "t"), PolicyConfig(), 1e9)
    assert (d.verdict, d.rule) == ("suppress", "no_basis")


def test_unreadable_linked_list_suppresses_marketing() -> None:
    info = decode_address_hash("a@x.example", {"person": "p", "linked": "{{"})
    st = RecipientState(address=P("a@x.example"), person="p", problems=info.problems)
    d = evaluate(st, MessageFacts("marketing", "t"), PolicyConfig(require_basis=False), 1e9)
    assert (d.verdict, d.rule) == ("suppress", "objection")
    d = evaluate(st, MessageFacts("transactional", "t"), PolicyConfig(), 1e9)
    assert d.verdict == "allow"


def test_tracking_only_when_literally_true() -> None:
    info = decode_address_hash("a@x.example", {"consent": json.dumps(
        {"type": "doi", "signup_at": 1, "confirmed_at": 2, "tracking": "yes"})})
    assert info.consent is not None and info.consent.tracking is False


@pytest.mark.parametrize("value,expected", [
    ("2026-01-10T09:15:00Z", 1768036500.0), ("2026-01-10T10:15:00+01:00", 1768036500.0),
    ("2026-01-10T09:15:00", 1768036500.0), (1768036500, 1768036500.0),
])
def test_times(value: object, expected: float) -> None:
    assert parse_time(value, "t") == expected


@pytest.mark.parametrize("value", ["yesterday", "", True, None, -5, "3000-01-02T00:00:00Z"])
def test_bad_times(value: object) -> None:
    with pytest.raises(RecordError):
        parse_time(value, "t")


def test_unconfirmed_doi_is_a_pending_signup() -> None:
    r = consent_record({"address": "A@X.example", "type": "doi",
                        "signup_at": "2026-01-01T00:00:00Z"}, 1, P)
    assert isinstance(r, ConsentLine) and r.consent is None and r.pending is not None
    assert r.pending.address == "a@x.example"


def test_record_shapes_are_exclusive() -> None:
    with pytest.raises(RecordError, match="only the key"):
        consent_record({"link": {"person": "p", "address": "a@x.example"},
                        "address": "a@x.example"}, 1, P)
    with pytest.raises(RecordError, match="scope"):
        suppression_record({"address": "a@x.example", "reason": "x", "scope": "news"}, 1, P)


def test_planner_links_both_ways_and_moves_between_persons() -> None:
    recs = [LinkLine(1, P("b@x.example"), "new")]
    current = {"b@x.example": {"person": "old", "linked": '["a@x.example"]'}}
    plan = plan_consent_batch(recs, current, {"new": {"c@x.example"},
                                              "old": {"a@x.example", "b@x.example"}},
                              now=1.0, actor="t")
    assert plan.sadd == {"new": {"b@x.example"}}
    assert plan.srem == {"old": {"b@x.example"}}
    assert json.loads(plan.hset["b@x.example"]["linked"]) == ["c@x.example"]
    assert json.loads(plan.hset["c@x.example"]["linked"]) == ["b@x.example"]
    assert json.loads(plan.hset["a@x.example"]["linked"]) == []
    assert [e["action"] for e in plan.audit] == ["link"]
    again = plan_consent_batch(recs, {"b@x.example": {"person": "new"}},
                               {"new": {"b@x.example", "c@x.example"}}, now=2.0, actor="t")
    assert (again.written, again.unchanged, again.hset, again.audit) == (0, 1, {}, [])
