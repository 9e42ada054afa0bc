"""The ordered rule chain as data, and the tiny engine that runs it.

Each rule looks at a `Context` and either decides (returns an Outcome) or passes
(returns None). The engine records every rule it tried (`misses`) and the one that
decided (`hits`), which makes each Decision its own audit trail (the Mailman 3 shape).
A rule that passes may leave notes (`ctx.note`, `ctx.why_not`): the facts it looked at
and why a basis did not hold; they end up in the Decision's facts and reasons.

The order (docs/consent.md, `consentry rules`):
 1 hard_bounce         a hard bounce stops every class of mail
 - domain_bounce       so does a dead domain (*@domain, reason hard_bounce)
 2 non_advertising     transactional and service mail ignore objections
 - domain              a suppressed domain (*@domain): no advertising, no DOI confirmation
 3 doi_confirmation    the DOI confirmation mail needs a fresh pending sign-up
 4 unknown_class       (never decides) unknown/missing class counts as marketing
 - soft_bounce         repeated soft bounces pause advertising until expiry
 5 objection           an objection on this or any linked address (global or this list);
                       lifted only by a DOI confirmed after it
 6 role_account        role accounts need a DOI
 7 consent_basis       DOI with evidence; COI/SOI only if accepted
 8 customer_exception  § 7 Abs. 3 UWG: all four conditions plus the active window
 9 no_basis            otherwise suppress (allow in objection-only mode)
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..config import MESSAGE_CLASSES, PolicyConfig
from ..model import (
    DELIVERY_FAILURE_REASONS,
    TEMPORARY_DELIVERY_REASONS,
    Consent,
    Decision,
    MessageFacts,
    Purchase,
    RecipientState,
    Suppression,
    Verdict,
    is_objection,
    iso,
)

NON_ADVERTISING = frozenset({"transactional", "service"})
DOI_CONFIRMATION = "doi-confirmation"
# Clocks of the sending tools and of several relay hosts differ a little: a consent or
# sign-up stamped up to this far in the future still counts as given. (Objections are
# never discounted by time: a suppression counts whatever its timestamp.)
CLOCK_SKEW = 300.0
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Derived:
    """Policy values normalised once per PolicyConfig object (they are frozen)."""

    roles: frozenset[str]
    similar: dict[str, frozenset[str]]


_derived: dict[int, tuple[PolicyConfig, Derived]] = {}


def derived(policy: PolicyConfig) -> Derived:
    hit = _derived.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    d = Derived(
        roles=frozenset(r.casefold() for r in policy.role_accounts),
        similar={k.casefold(): frozenset(v.casefold() for v in vs)
                 for k, vs in policy.similar_categories.items()},
    )
    if len(_derived) > 64:
        _derived.clear()
    _derived[id(policy)] = (policy, d)
    return d


@dataclass(slots=True)
class Context:
    # Not frozen: it lives for one evaluation, and frozen dataclasses cost per field on
    # the hot path (every recipient of every message).
    state: RecipientState
    facts: MessageFacts
    policy: PolicyConfig
    now: float
    notes: dict[str, Any] = field(default_factory=dict)
    why: list[str] = field(default_factory=list)

    @property
    def message_class(self) -> str:
        c = self.facts.message_class
        return c if c in MESSAGE_CLASSES else "marketing"

    def active_suppressions(self) -> list[Suppression]:
        return [s for s in self.state.suppressions if s.active(self.now)]

    def note(self, key: str, value: Any) -> None:
        self.notes[key] = value

    def why_not(self, reason: str) -> None:
        self.why.append(reason)


@dataclass(slots=True)
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


def _supp_fact(ctx: Context, s: Suppression) -> dict[str, Any]:
    d = s.as_fact()
    d["at_iso"] = iso(s.at)
    if s.address != ctx.state.address.key and s.address != ctx.state.address.canonical:
        d["linked"] = True
        if ctx.state.person is not None:
            d["person"] = ctx.state.person
    return d


def _where(ctx: Context, s: Suppression) -> str:
    if s.address in (ctx.state.address.key, ctx.state.address.canonical):
        return f"on {s.address}"
    return f"on linked address {s.address} of person {ctx.state.person}"


def _suppress(ctx: Context, reason: str, supp: Suppression) -> Outcome:
    return Outcome(
        "suppress",
        (reason, f"{supp.reason} via {supp.source} {_where(ctx, supp)} ({supp.scope}, "
                 f"{iso(supp.at)})"),
        facts={"suppression": _supp_fact(ctx, supp)},
    )


def valid_basis(c: Consent, policy: PolicyConfig, now: float) -> str | None:
    """None if `c` is a basis for advertising under `policy`, else why not."""
    if c.type == "doi":
        if not c.doi_evidence:
            missing = [n for n, v in (("signup_at", c.signup_at),
                                      ("confirmed_at", c.confirmed_at)) if v is None]
            if missing:
                return f"DOI without {' and '.join(missing)}: no evidence, no basis"
            return "DOI confirmed before its sign-up: broken evidence, no basis"
        assert c.confirmed_at is not None
        if c.confirmed_at > now + CLOCK_SKEW:
            return f"DOI confirmed only at {iso(c.confirmed_at)}, after the decision time"
        return None
    if c.type == "coi":
        if not policy.accept_coi:
            return "COI is not accepted as a basis (policy.accept_coi is false)"
    elif c.type == "soi":
        if not policy.accept_soi:
            return "SOI is not accepted as a basis (policy.accept_soi is false)"
    else:
        return f"unknown consent type {c.type!r}: no basis"
    if c.signup_at is not None and c.signup_at > now + CLOCK_SKEW:
        return f"signed up only at {iso(c.signup_at)}, after the decision time"
    return None


def tracking_allowed(ctx: Context) -> bool:
    """Tracking needs its own recorded consent: a consent record that is itself a valid
    basis and says tracking yes. A purchase (the customer exception) never gives it."""
    c = ctx.state.consent
    return (c is not None and c.tracking and valid_basis(c, ctx.policy, ctx.now) is None
            and c.covers_list(ctx.facts.list_name))


# -- the rules --------------------------------------------------------------------------


def rule_hard_bounce(ctx: Context) -> Outcome | None:
    for s in ctx.active_suppressions():
        if s.reason in DELIVERY_FAILURE_REASONS:
            return _suppress(ctx, "address hard-bounced: no mail of any class", s)
    return None


def rule_domain_bounce(ctx: Context) -> Outcome | None:
    for s in ctx.state.domain_suppressions:
        if s.reason in DELIVERY_FAILURE_REASONS and s.active(ctx.now):
            return _domain_outcome(s, "domain is dead (hard bounce): no mail of any class")
    return None


def rule_domain(ctx: Context) -> Outcome | None:
    """A whole domain suppressed (a competitor, a customer who asked for all its staff):
    no advertising, not even a DOI confirmation; transactional mail still flows. A new
    DOI does not lift it: the entry is the sender's own decision, not a person's."""
    for s in ctx.state.domain_suppressions:
        if s.active(ctx.now) and s.covers_list(ctx.facts.list_name):
            return _domain_outcome(s, "every address at this domain is suppressed")
    return None


def _domain_outcome(s: Suppression, why: str) -> Outcome:
    return Outcome("suppress", (why, f"{s.reason} via {s.source} on {s.address} ({s.scope}, "
                                     f"{iso(s.at)})"),
                   facts={"domain_suppression": {**s.as_fact(), "at_iso": iso(s.at)}})


def rule_non_advertising(ctx: Context) -> Outcome | None:
    if ctx.message_class in NON_ADVERTISING:
        return Outcome(
            "allow",
            (f"class {ctx.message_class} is not advertising: objections do not apply",),
            tracking=tracking_allowed(ctx),
        )
    return None


def rule_doi_confirmation(ctx: Context) -> Outcome | None:
    if ctx.message_class != DOI_CONFIRMATION:
        return None
    p = ctx.state.pending
    limit = ctx.policy.doi_pending_days * DAY
    if p is not None:
        age = ctx.now - p.signup_at
        fact = {"pending": p.as_fact()}
        if -CLOCK_SKEW <= age < limit:
            reasons = [f"pending DOI sign-up of {iso(p.signup_at)} is {age / 3600:.1f} h old "
                       f"(expiry {ctx.policy.doi_pending_days:g} days): confirmation mail "
                       "allowed"]
            if any(is_objection(s) for s in (*ctx.state.suppressions,
                                             *ctx.state.linked_suppressions)):
                reasons.append("an earlier objection does not block it: a new sign-up is a "
                               "new request")
            return Outcome("allow", tuple(reasons), facts=fact)
        if age >= limit:
            return Outcome("suppress", (f"pending DOI sign-up of {iso(p.signup_at)} expired "
                                        f"after {ctx.policy.doi_pending_days:g} days",),
                           facts=fact)
        return Outcome("suppress", (f"pending DOI sign-up dated {iso(p.signup_at)}, in the "
                                    "future",), facts=fact)
    if not ctx.policy.require_basis:
        return Outcome("allow", ("no pending sign-up on record; allowed in objection-only "
                                 "mode (policy.require_basis false: the sending tool manages "
                                 "sign-ups)",))
    return Outcome("suppress", ("no pending DOI sign-up for this address: a confirmation "
                                "mail goes only to a fresh sign-up",))


def rule_unknown_class(ctx: Context) -> Outcome | None:
    if ctx.facts.message_class not in MESSAGE_CLASSES:
        ctx.note("class", f"unknown class {ctx.facts.message_class!r} treated as marketing")
    return None


def rule_soft_bounce(ctx: Context) -> Outcome | None:
    for s in ctx.active_suppressions():
        if s.reason in TEMPORARY_DELIVERY_REASONS:
            return _suppress(ctx, "repeated soft bounces: paused until expiry", s)
    return None


def _lifted_by(ctx: Context, s: Suppression) -> Consent | None:
    """A DOI confirmed after the objection is a new, express basis: it lifts it (when
    configured) for the lists that DOI covers. A purchase never does."""
    c = ctx.state.consent
    if (
        ctx.policy.new_doi_lifts_objection
        and c is not None
        and c.doi_evidence
        and c.confirmed_at is not None
        and c.confirmed_at > s.at
        and c.confirmed_at <= ctx.now + CLOCK_SKEW
        and c.covers_list(ctx.facts.list_name)
    ):
        return c
    return None


def rule_objection(ctx: Context) -> Outcome | None:
    broken = [p for p in ctx.state.problems if p.startswith("linked")]
    if broken:
        return Outcome("suppress", ("the person's linked addresses cannot be read: "
                                    "objections on them cannot be ruled out (fail safe)",
                                    *broken))
    lst = ctx.facts.list_name
    candidates = [s for s in (*ctx.state.suppressions, *ctx.state.linked_suppressions)
                  if is_objection(s) and s.active(ctx.now) and s.covers_list(lst)]
    # Global objections first, then this list's; own address before linked ones.
    candidates.sort(key=lambda s: (s.scope != "global", s.address != ctx.state.address.key))
    lifted: list[dict[str, Any]] = []
    for s in candidates:
        c = _lifted_by(ctx, s)
        if c is not None:
            lifted.append(_supp_fact(ctx, s))
            continue
        what = ("objection covers all advertising" if s.scope == "global"
                else f"objection to list {lst}")
        out = _suppress(ctx, what, s)
        if lifted:
            out.facts["lifted_objections"] = lifted
        return out
    if lifted:
        ctx.note("lifted_objections", lifted)
        ctx.why_not(f"{len(lifted)} earlier objection(s) lifted by the DOI confirmed "
                    f"{iso(ctx.state.consent.confirmed_at if ctx.state.consent else None)}")
    return None


def rule_role_account(ctx: Context) -> Outcome | None:
    if not ctx.policy.require_basis:
        return None
    local = ctx.state.address.key.rpartition("@")[0]
    if local.casefold() not in derived(ctx.policy).roles:
        return None
    c = ctx.state.consent
    if c is not None and c.type == "doi" and valid_basis(c, ctx.policy, ctx.now) is None \
            and c.covers_list(ctx.facts.list_name):
        return None  # consent_basis allows it
    return Outcome("suppress", (f"role account {local}@: advertising needs a confirmed DOI, "
                                "no other basis counts",))


def rule_consent_basis(ctx: Context) -> Outcome | None:
    c = ctx.state.consent
    if c is None:
        ctx.why_not("no consent record")
        return None
    if not c.covers_list(ctx.facts.list_name):
        ctx.why_not(f"{c.type.upper()} covers lists {', '.join(c.lists)}, not "
                    f"{ctx.facts.list_name or 'a message without X-Consent-List'}")
        return None
    why = valid_basis(c, ctx.policy, ctx.now)
    if why is not None:
        ctx.why_not(why)
        return None
    if c.type == "doi":
        text = (f"DOI: signed up {iso(c.signup_at)}"
                f"{f' from {c.signup_ip}' if c.signup_ip else ''}, confirmed "
                f"{iso(c.confirmed_at)}{f' from {c.confirm_ip}' if c.confirm_ip else ''}")
    else:
        text = f"{c.type.upper()} accepted by policy (source {c.source})"
    tracking = c.tracking
    return Outcome("allow", (text, "tracking consent recorded" if tracking
                             else "no tracking consent: tracking off"), tracking=tracking)


def add_months(ts: float, months: int) -> float:
    dt = datetime.fromtimestamp(ts, UTC)
    m = dt.month - 1 + months
    year, month = dt.year + m // 12, m % 12 + 1
    day = min(dt.day, calendar.monthrange(year, month)[1])
    return dt.replace(year=year, month=month, day=day).timestamp()


def purchase_failures(p: Purchase, ctx: Context, category: str) -> list[str]:
    """Which conditions of § 7 Abs. 3 UWG (and the active window) this purchase fails."""
    fails: list[str] = []
    if p.status != "completed":
        fails.append(f"status {p.status}: only a completed sale counts")
    if p.kind not in ("paid", "freemium"):
        fails.append(f"kind {p.kind!r} is neither paid nor freemium")
    if not p.address_collected or p.address != ctx.state.address.key:
        fails.append("address not collected in connection with this sale")
    if not p.objection_notice:
        fails.append("no notice of the right to object at collection")
    similar = derived(ctx.policy).similar
    cats = {c.casefold() for c in p.categories}
    ok = {c for pc in cats for c in similar.get(pc, frozenset())} | cats
    if category.casefold() not in ok:
        fails.append(f"category {category} neither equal nor similar to "
                     f"{', '.join(p.categories) or 'no category'}")
    if p.at > ctx.now + CLOCK_SKEW:
        fails.append(f"purchase dated {iso(p.at)}, after the decision time")
    elif ctx.now > add_months(p.at, ctx.policy.active_customer_months):
        fails.append(f"purchase older than the active window of "
                     f"{ctx.policy.active_customer_months} months")
    return fails


def rule_customer_exception(ctx: Context) -> Outcome | None:
    purchases = ctx.state.purchases
    if not purchases:
        ctx.why_not("no purchase with this address: customer exception cannot apply")
        return None
    category = ctx.facts.category
    if category is None:
        ctx.why_not("no X-Consent-Category on the message: customer exception cannot apply")
        ctx.note("purchases", [p.as_fact() for p in purchases])
        return None
    checked: list[dict[str, Any]] = []
    for p in sorted(purchases, key=lambda p: -p.at):
        fails = purchase_failures(p, ctx, category)
        if not fails:
            return Outcome(
                "allow",
                (f"existing customer (§ 7 Abs. 3 UWG): {p.kind} purchase {p.id} of "
                 f"{iso(p.at)} ({', '.join(p.categories)}) completed, address collected with "
                 f"it, objection notice given, category {category} similar, within "
                 f"{ctx.policy.active_customer_months} months",
                 "tracking off: the customer exception never allows tracking"),
                tracking=False,
                facts={"purchase": p.as_fact()},
            )
        checked.append({**p.as_fact(), "fails": fails})
        ctx.why_not(f"purchase {p.id}: {'; '.join(fails)}")
    ctx.note("purchases", checked)
    return None


def rule_no_basis(ctx: Context) -> Outcome | None:
    if ctx.policy.require_basis:
        return Outcome("suppress", ("no basis for advertising", *ctx.why))
    return Outcome("allow", ("no objection on record; objection-only mode "
                             "(policy.require_basis false): no basis required", *ctx.why),
                   tracking=tracking_allowed(ctx))


CHAIN: tuple[Rule, ...] = (
    Rule("hard_bounce", "a hard bounce stops every class of mail", rule_hard_bounce),
    Rule("domain_bounce", "a dead domain (*@domain hard_bounce) stops every class of mail",
         rule_domain_bounce),
    Rule("non_advertising", "transactional and service mail ignore objections",
         rule_non_advertising),
    Rule("domain", "a suppressed domain (*@domain) gets no advertising and no DOI "
                   "confirmation", rule_domain),
    Rule("doi_confirmation", "a DOI confirmation mail only to a fresh pending sign-up",
         rule_doi_confirmation),
    Rule("unknown_class", "an unknown or missing class counts as marketing (never decides)",
         rule_unknown_class),
    Rule("soft_bounce", "repeated soft bounces pause advertising until expiry", rule_soft_bounce),
    Rule("objection", "an objection on this or any linked address stops advertising "
                      "(global: all lists; list: that list) unless a later DOI lifts it",
         rule_objection),
    Rule("role_account", "advertising to a role account needs a confirmed DOI",
         rule_role_account),
    Rule("consent_basis", "a DOI with both timestamps; COI/SOI only if accepted",
         rule_consent_basis),
    Rule("customer_exception", "§ 7 Abs. 3 UWG: completed sale, address collected with it, "
                               "objection notice, similar category, active window",
         rule_customer_exception),
    Rule("no_basis", "otherwise suppress (allow in objection-only mode)", rule_no_basis),
)


def evaluate(
    state: RecipientState,
    facts: MessageFacts,
    policy: PolicyConfig,
    now: float,
    chain: tuple[Rule, ...] = CHAIN,
) -> Decision:
    ctx = Context(state, facts, policy, now)
    base: dict[str, Any] = {"key": state.address.key}
    if state.person is not None:
        base["person"] = state.person
    if state.linked:
        base["linked"] = list(state.linked)
    if state.problems:
        base["problems"] = list(state.problems)
    if state.consent is not None:
        base["consent"] = state.consent.as_fact()
    if state.pending is not None:
        base["pending"] = state.pending.as_fact()
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
            tracking=outcome.tracking and outcome.verdict == "allow",
            hits=(rule.name,),
            misses=tuple(misses),
            facts={**base, **ctx.notes, **outcome.facts},
        )
    # Fail safe: a chain that decides nothing suppresses.
    return Decision(
        recipient=state.address.raw,
        verdict="suppress",
        rule="fallthrough",
        reasons=("no rule decided: fail safe", *ctx.why),
        misses=tuple(misses),
        facts={**base, **ctx.notes},
    )
