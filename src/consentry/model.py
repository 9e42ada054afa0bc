"""Plain values handed between the edges (SMTP, Redis) and the pure decision core."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
        # Case-insensitive: "list:News" also stops X-Consent-List: news (over-suppress).
        return list_name is not None and self.scope.casefold() == f"list:{list_name}".casefold()

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


def iso(ts: float | None) -> str | None:
    """A unix time as ISO 8601 UTC (what facts and exports show a human)."""
    if ts is None:
        return None
    return _iso(ts)


@functools.lru_cache(maxsize=8192)
def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def is_objection(s: Suppression) -> bool:
    """Objections (unsubscribe, reply, complaint, admin, anything unknown) concern the
    person and all their addresses; bounces concern one mailbox only."""
    return s.reason not in DELIVERY_FAILURE_REASONS and s.reason not in TEMPORARY_DELIVERY_REASONS


ConsentType = Literal["doi", "coi", "soi"]
CONSENT_TYPES: tuple[str, ...] = ("doi", "coi", "soi")
PurchaseStatus = Literal["completed", "cancelled", "enquiry"]
PURCHASE_STATUSES: tuple[str, ...] = ("completed", "cancelled", "enquiry")
PurchaseKind = Literal["paid", "freemium"]
PURCHASE_KINDS: tuple[str, ...] = ("paid", "freemium")


@dataclass(frozen=True, slots=True)
class Consent:
    """The recorded consent of one address (`cs:addr:<key>` field ``consent``)."""

    address: str  # address key
    type: str  # doi | coi | soi (anything else is no basis)
    signup_at: float | None = None
    signup_ip: str | None = None
    confirmed_at: float | None = None
    confirm_ip: str | None = None
    tracking: bool = False
    lists: tuple[str, ...] = ()  # empty = every list of the sender
    source: str = "unknown"

    def covers_list(self, list_name: str | None) -> bool:
        # A consent limited to lists covers only a message that names one of them.
        if not self.lists:
            return True
        return list_name is not None and list_name.casefold() in {x.casefold() for x in self.lists}

    @property
    def doi_evidence(self) -> bool:
        """A DOI is proof only with both timestamps, in order."""
        return (
            self.type == "doi"
            and self.signup_at is not None
            and self.confirmed_at is not None
            and self.confirmed_at >= self.signup_at
        )

    def as_fact(self) -> dict[str, Any]:
        d: dict[str, Any] = {"address": self.address, "type": self.type,
                             "signup_at": iso(self.signup_at), "signup_ip": self.signup_ip,
                             "confirmed_at": iso(self.confirmed_at),
                             "confirm_ip": self.confirm_ip, "tracking": self.tracking,
                             "lists": list(self.lists), "source": self.source}
        return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True, slots=True)
class PendingSignup:
    """An unconfirmed DOI sign-up (`cs:addr:<key>` field ``pending``), purged after
    `policy.doi_pending_days`."""

    address: str
    signup_at: float
    signup_ip: str | None = None
    tracking: bool = False
    lists: tuple[str, ...] = ()
    source: str = "unknown"

    def as_fact(self) -> dict[str, Any]:
        d: dict[str, Any] = {"address": self.address, "signup_at": iso(self.signup_at),
                             "signup_ip": self.signup_ip, "tracking": self.tracking,
                             "lists": list(self.lists), "source": self.source}
        return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Purchase:
    """A sale (or cancelled order, or enquiry) with the address it collected
    (`cs:addr:<key>` field ``purchase:<id>``)."""

    id: str
    person: str
    address: str  # the address key this purchase was made with
    at: float
    status: str  # completed | cancelled | enquiry
    kind: str = "paid"  # paid | freemium
    categories: tuple[str, ...] = ()
    address_collected: bool = False
    objection_notice: bool = False
    source: str = "unknown"

    def as_fact(self) -> dict[str, Any]:
        return {"id": self.id, "person": self.person, "address": self.address,
                "at": iso(self.at), "status": self.status, "kind": self.kind,
                "categories": list(self.categories),
                "address_collected": self.address_collected,
                "objection_notice": self.objection_notice, "source": self.source}


@dataclass(frozen=True, slots=True)
class RecipientState:
    address: Address
    suppressions: tuple[Suppression, ...] = ()  # on this address (key and canonical form)
    person: str | None = None
    linked: tuple[str, ...] = ()  # the person's other address keys
    linked_suppressions: tuple[Suppression, ...] = ()  # on those linked addresses
    consent: Consent | None = None
    pending: PendingSignup | None = None
    purchases: tuple[Purchase, ...] = ()
    problems: tuple[str, ...] = ()  # stored values that could not be read (fail safe)
    # On the recipient's whole domain (`*@domain`, cs:suppd:<domain>), read in the same
    # round trip; Suppression.address is "*@<domain>".
    domain_suppressions: tuple[Suppression, ...] = ()


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
