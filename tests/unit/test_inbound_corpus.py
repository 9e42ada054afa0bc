"""Every labelled sample of tests/data: the classifier's kind, failed recipients (count,
address, hard/soft) against the labels. A known disagreement is an xfail(strict=True)
with the reason; a sample that starts to pass, or a new miss, fails the suite."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from consentry.inbound.classify import Verdict, classify
from consentry.inbound.parse import split_mbox

DATA = Path(__file__).resolve().parent.parent / "data"
BOUNCES = DATA / "bounces"
REPLIES = DATA / "replies"


def _load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


ADDRESSES = {r["id"]: r["addresses"] for r in _load(BOUNCES / "addresses.jsonl")}


def _disagreements() -> dict[str, str]:
    """Samples whose label contradicts the message (DISAGREEMENTS.md: first cell of
    each table row is the sample id, the second the label)."""
    out: dict[str, str] = {}
    for line in (BOUNCES / "DISAGREEMENTS.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 5 and re.fullmatch(r"[a-z0-9]+-[\w-]+",
                                                                      cells[0]):
            out[cells[0]] = f"label {cells[2]!r} contradicts the message; consentry: " \
                            f"{cells[4]} (DISAGREEMENTS.md)"
    return out


DISAGREEMENTS = _disagreements()
# Misses where the message leaves room for the label: not documented as disagreements.
OUR_MISSES: dict[str, str] = {}
KNOWN_BOUNCE_MISSES: dict[str, str] = {**DISAGREEMENTS, **OUR_MISSES}
REPLY_EXPECT = {"unsubscribe": "unsubscribe", "not_unsubscribe": "reply",
                "autoreply": "autoreply"}


def _verdicts(path: Path) -> list[Verdict]:
    return [classify(m) for m in split_mbox(path.read_bytes())]


def _bounce_params() -> list[Any]:
    out = []
    for lab in _load(BOUNCES / "labels.jsonl"):
        marks = []
        if lab["id"] in KNOWN_BOUNCE_MISSES:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_BOUNCE_MISSES[lab["id"]]))
        out.append(pytest.param(lab, id=lab["id"], marks=marks))
    return out


@pytest.mark.parametrize("label", _bounce_params())
def test_bounce_corpus_sample(label: dict[str, Any]) -> None:
    vs = _verdicts(BOUNCES / label["file"])
    kinds = {v.kind for v in vs}
    assert kinds == {label["kind"]}
    if label["kind"] == "delivered":
        assert not any(v.suppress for v in vs)
        return
    if label["kind"] == "autoreply":
        assert not any(v.suppress for v in vs)
        return
    if label["kind"] == "complaint":
        return
    got = [r for v in vs for r in v.recipients]
    assert len(got) == len(label["recipients"])
    assert Counter(r["address"].lower() for r in got) == Counter(
        a.lower() for a in ADDRESSES[label["id"]])
    assert Counter(r["class"] for r in got) == Counter(e["class"] for e in label["recipients"])


def test_known_misses_are_few_and_labelled() -> None:
    ids = {lab["id"] for lab in _load(BOUNCES / "labels.jsonl")}
    assert set(KNOWN_BOUNCE_MISSES) <= ids
    assert not set(DISAGREEMENTS) & set(OUR_MISSES)
    assert len(DISAGREEMENTS) >= 15  # the table parsed (a format change would empty it)
    assert len(KNOWN_BOUNCE_MISSES) <= 0.1 * len(ids)
    # Our own misses (excluding documented label disagreements) stay under 5 %.
    assert len(OUR_MISSES) <= 0.05 * (len(ids) - len(DISAGREEMENTS))


@pytest.mark.parametrize("label", [pytest.param(lab, id=f"reply-{lab['id']}")
                                   for lab in _load(REPLIES / "labels.jsonl")])
def test_reply_corpus_sample(label: dict[str, Any]) -> None:
    (v,) = _verdicts(REPLIES / label["file"])
    if label["label"] == "ambiguous":
        assert v.kind in ("reply", "unsubscribe")
        assert v.review, "a hesitant case must be flagged for review"
        return
    assert v.kind == REPLY_EXPECT[label["label"]]
    if label["label"] == "autoreply":
        assert not v.suppress


def test_no_sender_side_rejection_is_hard() -> None:
    """Blocklisted IPs, reputation, authentication, spam content: never a dead address."""
    sender_side = {"blocked", "spamdetected", "policyviolation", "authfailure",
                   "badreputation", "requireptr", "securityerror", "norelaying",
                   "toomanyconn", "speeding", "virusdetected", "contenterror",
                   "failedstarttls"}
    wrong = []
    for lab in _load(BOUNCES / "labels.jsonl"):
        if lab["kind"] != "bounce" or not any(e["reason"] in sender_side
                                              for e in lab["recipients"]):
            continue
        hard_expected = sum(e["class"] == "hard" for e in lab["recipients"])
        got = [r for v in _verdicts(BOUNCES / lab["file"]) for r in v.recipients]
        if sum(r["class"] == "hard" for r in got) > hard_expected:
            wrong.append(lab["id"])
    assert wrong == []
