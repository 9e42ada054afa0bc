"""Consent records, persons and purchases: the JSON stored in Redis and the import formats.

Pure (no I/O): `store.py` reads and writes Redis with these codecs, `importer.py` turns
JSONL/CSV lines into the records below. The formats are documented in docs/consent.md.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .address import Address
from .errors import InvalidAddress
from .model import (
    CONSENT_TYPES,
    GLOBAL_SCOPE,
    PURCHASE_KINDS,
    PURCHASE_STATUSES,
    Consent,
    PendingSignup,
    Purchase,
)

# Person ids, list names, categories and purchase ids end up in Redis keys and logs: the
# same safe token alphabet as the control headers (classify._SAFE_TOKEN), no braces (they
# are the Redis Cluster hash tag around the person id) and no glob characters.
_TOKEN = re.compile(r"^[A-Za-z0-9._:@+\-/]{1,128}$")
_SCOPE = re.compile(r"^list:[A-Za-z0-9._:@+\-/]{1,128}$")
_CONTROL = re.compile(r"[\x00-\x1f]")
MAX_ITEMS = 200
MAX_TEXT = 500

AddressParser = Callable[[str], Address]


class RecordError(ValueError):
    """One import line is invalid; the message names the field."""


# -- small validators ------------------------------------------------------------------


def parse_time(value: Any, name: str) -> float:
    """ISO 8601 (``2024-05-01T10:00:00Z``, offset or naive = UTC) or a unix number."""
    if isinstance(value, bool):
        raise RecordError(f"{name}: not a time: {value!r}")
    if isinstance(value, int | float):
        ts = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            try:
                ts = float(text)
            except ValueError:
                raise RecordError(f"{name}: not an ISO 8601 time: {value!r}") from None
        else:
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            ts = dt.timestamp()
    else:
        raise RecordError(f"{name}: not a time: {value!r}")
    if not math.isfinite(ts) or not 0 <= ts < 32503680000:  # year 3000
        raise RecordError(f"{name}: time out of range: {value!r}")
    return ts


def _ip(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise RecordError(f"{name}: must be an IP address string, got {value!r}")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise RecordError(f"{name}: not an IP address: {value!r}") from None


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    raise RecordError(f"{name}: must be true or false, got {value!r}")


def token(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _TOKEN.match(value.strip()):
        raise RecordError(
            f"{name}: must be 1-128 characters of A-Z a-z 0-9 . _ : @ + - /, got {value!r}")
    return value.strip()


def _tokens(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise RecordError(f"{name}: must be a list, got {type(value).__name__}")
    if len(value) > MAX_ITEMS:
        raise RecordError(f"{name}: more than {MAX_ITEMS} entries")
    out: list[str] = []
    for i, v in enumerate(value):
        t = token(v, f"{name}[{i}]")
        if t not in out:
            out.append(t)
    return tuple(out)


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise RecordError(f"{name}: must be a non-empty string of at most {MAX_TEXT} chars")
    if _CONTROL.search(value):  # a regex: C speed on a 10-million-line import
        raise RecordError(f"{name}: control characters are not allowed")
    return value.strip()


def _address(value: Any, name: str, parse: AddressParser) -> Address:
    if not isinstance(value, str):
        raise RecordError(f"{name}: must be a string, got {value!r}")
    try:
        return parse(value)
    except InvalidAddress as exc:
        raise RecordError(f"{name}: invalid address {value!r}: {exc}") from None


def _check_keys(d: Mapping[str, Any], allowed: set[str], required: set[str], where: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise RecordError(f"{where}unknown field(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(allowed))})")
    missing = sorted(k for k in required if d.get(k) is None)
    if missing:
        raise RecordError(f"{where}missing field(s) {', '.join(missing)}")


# -- import records --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsentLine:
    line: int
    address: Address
    person: str | None
    consent: Consent | None  # a basis record (coi, soi, confirmed or evidence-less doi)
    pending: PendingSignup | None  # an unconfirmed DOI sign-up


@dataclass(frozen=True, slots=True)
class PurchaseLine:
    line: int
    address: Address
    purchase: Purchase


@dataclass(frozen=True, slots=True)
class LinkLine:
    line: int
    address: Address
    person: str


ConsentImport = ConsentLine | PurchaseLine | LinkLine


@dataclass(frozen=True, slots=True)
class SuppressionLine:
    line: int
    address: Address
    scope: str
    reason: str
    source: str
    at: float | None
    expires_at: float | None = None
    evidence: str | None = None


CONSENT_FIELDS = {"address", "person", "type", "signup_at", "signup_ip", "confirmed_at",
                  "confirm_ip", "tracking", "lists", "source"}
PURCHASE_FIELDS = {"id", "person", "address", "at", "status", "kind", "categories",
                   "address_collected", "objection_notice", "source"}
PURCHASE_REQUIRED = {"person", "address", "at", "status", "categories", "address_collected",
                     "objection_notice"}
LINK_FIELDS = {"person", "address"}
SUPPRESSION_FIELDS = {"address", "reason", "source", "at", "scope", "expires_at", "evidence"}


def consent_record(d: Mapping[str, Any], line: int, parse: AddressParser) -> ConsentImport:
    """One consent-import record, told apart by its fields: ``{"purchase": {…}}``,
    ``{"link": {…}}`` or a consent record ``{"address", "type", …}``."""
    if "purchase" in d or "link" in d:
        kind = "purchase" if "purchase" in d else "link"
        if len(d) != 1:
            raise RecordError(f"a {kind} record has only the key {kind!r}, got "
                              f"{', '.join(sorted(d))}")
        inner = d[kind]
        if not isinstance(inner, dict):
            raise RecordError(f"{kind}: must be an object")
        if kind == "link":
            _check_keys(inner, LINK_FIELDS, LINK_FIELDS, "link: ")
            return LinkLine(line, _address(inner["address"], "link.address", parse),
                            token(inner["person"], "link.person"))
        return purchase_record(inner, line, parse)
    _check_keys(d, CONSENT_FIELDS, {"address", "type"}, "")
    a = _address(d["address"], "address", parse)
    ctype = d["type"]
    if ctype not in CONSENT_TYPES:
        raise RecordError(f"type: must be one of {', '.join(CONSENT_TYPES)}, got {ctype!r}")
    person = token(d["person"], "person") if d.get("person") is not None else None
    signup_at = parse_time(d["signup_at"], "signup_at") if d.get("signup_at") is not None \
        else None
    confirmed_at = parse_time(d["confirmed_at"], "confirmed_at") \
        if d.get("confirmed_at") is not None else None
    signup_ip = _ip(d["signup_ip"], "signup_ip") if d.get("signup_ip") is not None else None
    confirm_ip = _ip(d["confirm_ip"], "confirm_ip") if d.get("confirm_ip") is not None \
        else None
    tracking = _bool(d["tracking"], "tracking") if d.get("tracking") is not None else False
    lists = _tokens(d["lists"], "lists") if d.get("lists") is not None else ()
    source = _text(d["source"], "source") if d.get("source") is not None else "import"
    if ctype == "soi" and (confirmed_at is not None or confirm_ip is not None):
        raise RecordError("confirmed_at/confirm_ip: a single opt-in has no confirmation")
    if signup_at is not None and confirmed_at is not None and confirmed_at < signup_at:
        raise RecordError("confirmed_at: earlier than signup_at (broken evidence)")
    if confirm_ip is not None and confirmed_at is None:
        raise RecordError("confirm_ip: given without confirmed_at")
    if ctype == "doi" and confirmed_at is None and signup_at is not None:
        # An unconfirmed DOI is a pending sign-up: it allows the confirmation mail only.
        return ConsentLine(line, a, person, None,
                           PendingSignup(a.key, signup_at, signup_ip, tracking, lists, source))
    return ConsentLine(line, a, person,
                       Consent(a.key, ctype, signup_at, signup_ip, confirmed_at, confirm_ip,
                               tracking, lists, source), None)


def purchase_record(d: Mapping[str, Any], line: int, parse: AddressParser) -> PurchaseLine:
    _check_keys(d, PURCHASE_FIELDS, PURCHASE_REQUIRED, "purchase: ")
    a = _address(d["address"], "purchase.address", parse)
    at = parse_time(d["at"], "purchase.at")
    status = d["status"]
    if status not in PURCHASE_STATUSES:
        raise RecordError(f"purchase.status: must be one of {', '.join(PURCHASE_STATUSES)}, "
                          f"got {status!r}")
    kind = d.get("kind") if d.get("kind") is not None else "paid"
    if kind not in PURCHASE_KINDS:
        raise RecordError(f"purchase.kind: must be one of {', '.join(PURCHASE_KINDS)}, "
                          f"got {kind!r}")
    pid = token(d["id"], "purchase.id") if d.get("id") is not None else default_purchase_id(at)
    source = _text(d["source"], "purchase.source") if d.get("source") is not None else "import"
    return PurchaseLine(line, a, Purchase(
        id=pid, person=token(d["person"], "purchase.person"), address=a.key, at=at,
        status=str(status), kind=str(kind),
        categories=_tokens(d["categories"], "purchase.categories"),
        address_collected=_bool(d["address_collected"], "purchase.address_collected"),
        objection_notice=_bool(d["objection_notice"], "purchase.objection_notice"),
        source=source))


def default_purchase_id(at: float) -> str:
    """Without an explicit order id a purchase is identified by its time, so importing the
    same purchase again (or its later cancellation) overwrites instead of adding one."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def suppression_record(d: Mapping[str, Any], line: int, parse: AddressParser
                       ) -> SuppressionLine:
    _check_keys(d, SUPPRESSION_FIELDS, {"address", "reason"}, "")
    a = _address(d["address"], "address", parse)
    scope = d.get("scope") if d.get("scope") is not None else GLOBAL_SCOPE
    if scope != GLOBAL_SCOPE and not (isinstance(scope, str) and _SCOPE.match(scope)):
        raise RecordError(f"scope: must be 'global' or 'list:NAME', got {scope!r}")
    reason = token(d["reason"], "reason")
    source = token(d["source"], "source") if d.get("source") is not None else "import"
    at = parse_time(d["at"], "at") if d.get("at") is not None else None
    expires = parse_time(d["expires_at"], "expires_at") if d.get("expires_at") is not None \
        else None
    evidence = _text(d["evidence"], "evidence") if d.get("evidence") is not None else None
    return SuppressionLine(line, a, str(scope), reason, source, at, expires, evidence)


# -- the JSON values in Redis ----------------------------------------------------------


def _dumps(d: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in d.items() if v is not None}, separators=(",", ":"),
                      sort_keys=True, ensure_ascii=False)


def encode_consent(c: Consent) -> str:
    return _dumps({"type": c.type, "signup_at": c.signup_at, "signup_ip": c.signup_ip,
                   "confirmed_at": c.confirmed_at, "confirm_ip": c.confirm_ip,
                   "tracking": c.tracking, "lists": list(c.lists), "source": c.source})


def encode_pending(p: PendingSignup) -> str:
    return _dumps({"signup_at": p.signup_at, "signup_ip": p.signup_ip,
                   "tracking": p.tracking, "lists": list(p.lists), "source": p.source})


def encode_purchase(p: Purchase) -> str:
    return _dumps({"person": p.person, "at": p.at, "status": p.status, "kind": p.kind,
                   "categories": list(p.categories),
                   "address_collected": p.address_collected,
                   "objection_notice": p.objection_notice, "source": p.source})


def _opt_float(d: Mapping[str, Any], k: str) -> float | None:
    v = d.get(k)
    if v is None:
        return None
    if type(v) is float:
        return v
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"{k} is not a number")
    return float(v)


def _str_tuple(v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise ValueError("not a list")
    return tuple(str(x) for x in v)


def _obj(raw: str) -> dict[str, Any]:
    d = json.loads(raw)
    if not isinstance(d, dict):
        raise ValueError("not a JSON object")
    return d


def decode_consent(address_key: str, raw: str) -> Consent:
    # On every recipient's path: kept lean (one dict lookup per field).
    d = _obj(raw)
    signup_ip = d.get("signup_ip")
    confirm_ip = d.get("confirm_ip")
    lists = d.get("lists")
    return Consent(address=address_key, type=str(d.get("type", "")),
                   signup_at=_opt_float(d, "signup_at"),
                   signup_ip=str(signup_ip) if signup_ip else None,
                   confirmed_at=_opt_float(d, "confirmed_at"),
                   confirm_ip=str(confirm_ip) if confirm_ip else None,
                   # Tracking consent only when literally true (fail safe).
                   tracking=d.get("tracking") is True,
                   lists=_str_tuple(lists) if lists else (),
                   source=str(d.get("source", "unknown")))


def decode_pending(address_key: str, raw: str) -> PendingSignup:
    d = _obj(raw)
    at = _opt_float(d, "signup_at")
    if at is None:
        raise ValueError("pending sign-up without signup_at")
    return PendingSignup(address=address_key, signup_at=at,
                         signup_ip=str(d["signup_ip"]) if d.get("signup_ip") else None,
                         tracking=d.get("tracking") is True, lists=_str_tuple(d.get("lists")),
                         source=str(d.get("source", "unknown")))


def decode_purchase(address_key: str, pid: str, raw: str) -> Purchase:
    d = _obj(raw)
    at = _opt_float(d, "at")
    if at is None:
        raise ValueError("purchase without at")
    return Purchase(id=pid, person=str(d.get("person", "")), address=address_key, at=at,
                    status=str(d.get("status", "")), kind=str(d.get("kind", "paid")),
                    categories=_str_tuple(d.get("categories")),
                    address_collected=d.get("address_collected") is True,
                    objection_notice=d.get("objection_notice") is True,
                    source=str(d.get("source", "unknown")))


PURCHASE_FIELD_PREFIX = "purchase:"


@dataclass(frozen=True, slots=True)
class AddressInfo:
    """The decoded `cs:addr:<key>` hash."""

    person: str | None = None
    linked: tuple[str, ...] = ()
    consent: Consent | None = None
    pending: PendingSignup | None = None
    purchases: tuple[Purchase, ...] = ()
    problems: tuple[str, ...] = field(default=())


_EMPTY = AddressInfo()


def decode_address_hash(address_key: str, h: Mapping[str, str]) -> AddressInfo:
    """Decode what another tool (or an older version) wrote; a value that cannot be read
    is reported in `problems` and never turns into a basis (fail safe)."""
    if not h:
        return _EMPTY  # the common case for an address without consent data
    problems: list[str] = []
    consent = pending = None
    linked: tuple[str, ...] = ()
    purchases: list[Purchase] = []
    raw = h.get("consent")
    if raw is not None:
        try:
            consent = decode_consent(address_key, raw)
        except (ValueError, TypeError) as exc:
            problems.append(f"consent unreadable: {exc}")
    raw = h.get("pending")
    if raw is not None:
        try:
            pending = decode_pending(address_key, raw)
        except (ValueError, TypeError) as exc:
            problems.append(f"pending unreadable: {exc}")
    raw = h.get("linked")
    if raw is not None:
        try:
            v = json.loads(raw)
            if not isinstance(v, list):
                raise ValueError("not a list")
            linked = tuple(sorted({str(x) for x in v} - {address_key}))
        except (ValueError, TypeError) as exc:
            problems.append(f"linked unreadable: {exc}")
    known = ("person" in h) + ("linked" in h) + ("consent" in h) + ("pending" in h)
    for k, v in sorted(h.items()) if len(h) > known else ():
        if k.startswith(PURCHASE_FIELD_PREFIX):
            pid = k[len(PURCHASE_FIELD_PREFIX):]
            try:
                purchases.append(decode_purchase(address_key, pid, v))
            except (ValueError, TypeError) as exc:
                problems.append(f"purchase {pid} unreadable: {exc}")
    person = h.get("person") or None
    return AddressInfo(person, linked, consent, pending, tuple(purchases), tuple(problems))


# -- planning an import batch (pure: the store reads, this decides, the store writes) --


@dataclass(slots=True)
class WritePlan:
    """What one import batch changes, as plain operations the store queues inside ONE
    MULTI/EXEC: hash fields to set/delete, set/zset changes and audit entries."""

    hset: dict[str, dict[str, str]] = field(default_factory=dict)  # address key -> fields
    hdel: dict[str, set[str]] = field(default_factory=dict)
    sadd: dict[str, set[str]] = field(default_factory=dict)  # person -> address keys
    srem: dict[str, set[str]] = field(default_factory=dict)
    zadd: dict[str, float] = field(default_factory=dict)  # pending index
    zrem: set[str] = field(default_factory=set)
    audit: list[dict[str, str]] = field(default_factory=list)
    written: int = 0
    unchanged: int = 0


def _person_in(r: ConsentImport) -> str | None:
    if isinstance(r, ConsentLine):
        return r.person
    if isinstance(r, PurchaseLine):
        return r.purchase.person
    return r.person


def persons_in(records: Iterable[ConsentImport]) -> set[str]:
    return {p for r in records if (p := _person_in(r)) is not None}


def plan_consent_batch(
    records: Iterable[ConsentImport],
    current: Mapping[str, Mapping[str, str]],
    members: Mapping[str, set[str]],
    now: float,
    actor: str,
) -> WritePlan:
    """`current`: the stored `cs:addr:` hash of every address in the batch; `members`: the
    stored address set of every person involved (in the batch, or the old person of a
    re-linked address). Later lines win over earlier ones."""
    state = {k: dict(v) for k, v in current.items()}
    person_of = {k: v.get("person") or None for k, v in current.items()}
    sets = {p: set(m) for p, m in members.items()}
    dirty: set[str] = set()
    plan = WritePlan()
    stamp = f"{now:.6f}"

    def audit(action: str, key: str, record: str, source: str, **extra: str) -> None:
        plan.audit.append({"action": action, "address": key, **extra, "record": record,
                           "source": source, "at": stamp, "actor": actor})

    def link(key: str, person: str, source: str) -> bool:
        old = person_of.get(key)
        if old == person and key in sets.get(person, set()):
            return False
        if old is not None and old != person:
            sets.setdefault(old, set()).discard(key)
            dirty.add(old)
        sets.setdefault(person, set()).add(key)
        person_of[key] = person
        dirty.add(person)
        audit("link", key, _dumps({"person": person, "previous": old}), source, person=person)
        return True

    for r in records:
        key = r.address.key
        h = state.setdefault(key, {})
        changed = False
        if isinstance(r, ConsentLine):
            if r.consent is not None:
                v = encode_consent(r.consent)
                if h.get("consent") != v:
                    h["consent"] = v
                    audit("consent", key, v, r.consent.source, type=r.consent.type)
                    changed = True
                if r.consent.doi_evidence and "pending" in h:
                    # The sign-up is confirmed: it is no longer pending.
                    audit("pending_confirmed", key, h.pop("pending"), r.consent.source)
                    plan.zrem.add(key)
                    plan.zadd.pop(key, None)
                    changed = True
            if r.pending is not None:
                v = encode_pending(r.pending)
                if h.get("pending") != v:
                    h["pending"] = v
                    plan.zadd[key] = r.pending.signup_at
                    plan.zrem.discard(key)
                    audit("pending", key, v, r.pending.source)
                    changed = True
            if r.person is not None:
                changed = link(key, r.person, "import") or changed
        elif isinstance(r, PurchaseLine):
            p = r.purchase
            fname = PURCHASE_FIELD_PREFIX + p.id
            v = encode_purchase(p)
            if h.get(fname) != v:
                h[fname] = v
                audit("purchase", key, v, p.source, person=p.person, id=p.id)
                changed = True
            changed = link(key, p.person, p.source) or changed
        else:
            changed = link(key, r.person, "import")
        if changed:
            plan.written += 1
        else:
            plan.unchanged += 1

    extra: dict[str, dict[str, str]] = {}
    for person in sorted(dirty):
        final = sets.get(person, set())
        before = members.get(person, set())
        if final - before:
            plan.sadd[person] = final - before
        if before - final:
            plan.srem[person] = before - final
        for m in final:
            fields = {"person": person,
                      "linked": json.dumps(sorted(final - {m}), ensure_ascii=False)}
            if m in state:
                state[m].update(fields)
            else:
                extra[m] = fields
    for key, h in state.items():
        old = current.get(key, {})
        changes = {f: v for f, v in h.items() if old.get(f) != v}
        if changes:
            plan.hset[key] = changes
        gone = set(old) - set(h)
        if gone:
            plan.hdel[key] = gone
    plan.hset.update(extra)
    return plan
