"""Plain values handed between the edges (SMTP, Redis) and the pure decision core."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .address import Address

Verdict = Literal["allow", "suppress"]

GLOBAL_SCOPE = "global"

# Suppression reasons that mean the mailbox is dead: they stop every class of mail,
# transactional included (SPEC §1.4). Everything else is an objection to advertising.
DELIVERY_FAILURE_REASONS = frozenset({"hard_bounce"})
TEMPORARY_DELIVERY_REASONS = frozenset({"soft_bounce"})


@dataclass(frozen=True, slots=True)
class Suppression:
    address: str  # the suppression key it was stored under
    scope: str  # "global" or "list:NAME"
    reason: str  # unsubscribe | objection | complaint | hard_bounce | soft_bounce | admin | ...
    source: str  # one-click | mailto | reply | bounce | complaint | admin | import | ...
    at: float  # unix time it was recorded
    expires_at: float | None = None
    evidence: str | None = None

    def active(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at

    def covers_list(self, list_name: str | None) -> bool:
        if self.scope == GLOBAL_SCOPE:
            return True
        return list_name is not None and self.scope == f"list:{list_name}"

    def as_fact(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "address": self.address,
            "scope": self.scope,
            "reason": self.reason,
            "source": self.source,
            "at": self.at,
        }
        if self.expires_at is not None:
            d["expires_at"] = self.expires_at
        return d


@dataclass(frozen=True, slots=True)
class RecipientState:
    address: Address
    suppressions: tuple[Suppression, ...] = ()


@dataclass(frozen=True, slots=True)
class MessageFacts:
    message_class: str
    classified_by: str
    category: str | None = None
    list_name: str | None = None
    campaign: str | None = None
    message_id: str | None = None
    mail_from: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    recipient: str
    verdict: Verdict
    rule: str
    reasons: tuple[str, ...]
    tracking: bool = False
    hits: tuple[str, ...] = ()
    misses: tuple[str, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.verdict == "allow"
