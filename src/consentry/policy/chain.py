"""The ordered rule chain as data, and the tiny engine that runs it.

Each rule looks at a `Context` and either decides (returns an Outcome) or passes
(returns None). The engine records every rule it tried (`misses`) and the one that
decided (`hits`), which makes each Decision its own audit trail (the Mailman 3 shape).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import PolicyConfig
from ..model import (
    DELIVERY_FAILURE_REASONS,
    TEMPORARY_DELIVERY_REASONS,
    Decision,
    MessageFacts,
    RecipientState,
    Suppression,
    Verdict,
)

NON_ADVERTISING = frozenset({"transactional", "service", "doi-confirmation"})


@dataclass(frozen=True, slots=True)
class Context:
    state: RecipientState
    facts: MessageFacts
    policy: PolicyConfig
    now: float

    def active_suppressions(self) -> list[Suppression]:
        return [s for s in self.state.suppressions if s.active(self.now)]


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    reasons: tuple[str, ...]
    tracking: bool = False
    facts: dict[str, Any] = field(default_factory=dict)


RuleFn = Callable[[Context], Outcome | None]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    summary: str
    fn: RuleFn


def _suppress(reason: str, supp: Suppression) -> Outcome:
    return Outcome(
        "suppress",
        (reason, f"{supp.reason} via {supp.source} on {supp.address} ({supp.scope})"),
        facts={"suppression": supp.as_fact()},
    )


def rule_hard_bounce(ctx: Context) -> Outcome | None:
    for s in ctx.active_suppressions():
        if s.reason in DELIVERY_FAILURE_REASONS:
            return _suppress("address hard-bounced: no mail of any class", s)
    return None


def rule_non_advertising(ctx: Context) -> Outcome | None:
    if ctx.facts.message_class in NON_ADVERTISING:
        return Outcome(
            "allow",
            (f"class {ctx.facts.message_class} is not advertising: objections do not apply",),
        )
    return None


def rule_soft_bounce(ctx: Context) -> Outcome | None:
    for s in ctx.active_suppressions():
        if s.reason in TEMPORARY_DELIVERY_REASONS:
            return _suppress("repeated soft bounces: paused until expiry", s)
    return None


def rule_objection_global(ctx: Context) -> Outcome | None:
    for s in ctx.active_suppressions():
        if s.scope == "global" and s.reason not in TEMPORARY_DELIVERY_REASONS:
            return _suppress("objection covers all advertising", s)
    return None


def rule_objection_list(ctx: Context) -> Outcome | None:
    lst = ctx.facts.list_name
    for s in ctx.active_suppressions():
        if s.scope != "global" and s.covers_list(lst):
            return _suppress(f"objection to list {lst}", s)
    return None


def rule_basis(ctx: Context) -> Outcome | None:
    if ctx.policy.require_basis:
        return Outcome("suppress", ("no recorded basis for advertising (policy.require_basis)",))
    return Outcome("allow", ("no objection on record",))


CHAIN: tuple[Rule, ...] = (
    Rule("hard_bounce", "a hard bounce stops every class of mail", rule_hard_bounce),
    Rule("non_advertising", "transactional/service/DOI mail ignores objections",
         rule_non_advertising),
    Rule("soft_bounce", "repeated soft bounces pause advertising until expiry", rule_soft_bounce),
    Rule("objection_global", "a global objection stops all advertising", rule_objection_global),
    Rule("objection_list", "a list objection stops that list", rule_objection_list),
    Rule("basis", "otherwise: allowed unless a basis is required", rule_basis),
)


def evaluate(
    state: RecipientState,
    facts: MessageFacts,
    policy: PolicyConfig,
    now: float,
    chain: tuple[Rule, ...] = CHAIN,
) -> Decision:
    ctx = Context(state, facts, policy, now)
    misses: list[str] = []
    for rule in chain:
        outcome = rule.fn(ctx)
        if outcome is None:
            misses.append(rule.name)
            continue
        return Decision(
            recipient=state.address.raw,
            verdict=outcome.verdict,
            rule=rule.name,
            reasons=outcome.reasons,
            tracking=outcome.tracking,
            hits=(rule.name,),
            misses=tuple(misses),
            facts={"key": state.address.key, **outcome.facts},
        )
    # Fail safe: a chain that decides nothing suppresses.
    return Decision(
        recipient=state.address.raw,
        verdict="suppress",
        rule="fallthrough",
        reasons=("no rule decided: fail safe",),
        misses=tuple(misses),
        facts={"key": state.address.key},
    )
