"""Suppression exports of common ESPs mapped to consentry's import shape (pure).

Each format turns one row (a CSV row as header -> cell, or a JSON object) into zero or
more records ``{"address", "reason", "source", "at", "scope", "expires_at", "evidence"}``
that `consent.suppression_record` validates like a generic import line. The column
mapping of every format is documented in docs/import.md; a row the format cannot map
raises RowError (reported with its line number, the rest of the file is imported).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from .consent import SUPPRESSION_FIELDS

Row = Mapping[str, Any]
Record = dict[str, Any]
DAY = 86400.0
SOFT_PAUSE_DAYS = 30.0  # SendGrid blocks: a pause, like consentry's own soft bounces

FORMATS = ("csv", "jsonl", "sendgrid", "mailgun", "mailchimp", "brevo", "ses")
# Formats whose files are JSON lines (the others are CSV; ses takes both).
JSON_FORMATS = frozenset({"jsonl"})


class RowError(ValueError):
    """This row cannot be mapped; the message says why."""


class Normalized(dict[str, Any]):
    """A row whose keys are already `norm_key`ed and whose empty cells are dropped (the
    CSV reader does it once per header, not once per row)."""


def norm_key(k: Any) -> str:
    return "".join(ch for ch in str(k).lower() if ch.isalnum())


def _norm(row: Row) -> dict[str, Any]:
    """Column names compared case- and punctuation-insensitively: "Email Address",
    "email_address" and "EMAIL-ADDRESS" are one column."""
    if isinstance(row, Normalized):
        return row
    out: dict[str, Any] = {}
    for k, v in row.items():
        key = norm_key(k)
        if isinstance(v, str):
            v = v.strip()
        if v not in (None, ""):
            out[key] = v
    return out


def _first(r: Mapping[str, Any], *names: str) -> Any:
    for n in names:
        if r.get(n) not in (None, ""):
            return r[n]
    return None


def _time(value: Any) -> float | None:
    """Unix seconds (or milliseconds), ISO 8601, "YYYY-MM-DD HH:MM:SS" (UTC) or RFC 2822
    (Mailgun's "Fri, 21 Oct 2011 11:02:55 GMT")."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        v = float(value)
        return v / 1000.0 if v > 1e11 else v
    text = str(value).strip()
    try:
        v = float(text)
        return v / 1000.0 if v > 1e11 else v
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            dt = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            raise RowError(f"not a time: {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _rec(address: Any, reason: str, source: str, at: float | None, evidence: str | None,
         scope: str | None = None, expires_at: float | None = None) -> Record:
    if not address:
        raise RowError("no e-mail address column")
    d: Record = {"address": str(address), "reason": reason, "source": source}
    if at is not None:
        d["at"] = at
    if scope:
        d["scope"] = scope
    if expires_at is not None:
        d["expires_at"] = expires_at
    if evidence:
        ev = " ".join(evidence.split())[:480]
        if ev:
            d["evidence"] = ev
    return d


def _status_reason(status: str | None) -> str:
    """An SMTP reply or enhanced status code -> hard_bounce (5xx) | soft_bounce (4xx)."""
    s = (status or "").strip()
    return "soft_bounce" if s.startswith("4") else "hard_bounce"


# -- the formats ---------------------------------------------------------------------


def sendgrid(row: Row, kind: str | None) -> list[Record]:
    """Suppressions > (Bounces | Blocks | Spam Reports | Invalid Emails | Global
    Unsubscribes | Group Unsubscribes) > Export CSV, or the v3 API's JSON objects."""
    r = _norm(row)
    email = _first(r, "email", "emailaddress")
    at = _time(_first(r, "created", "createdat"))
    if kind is None:
        kind = ("spam_reports" if "ip" in r else "bounces" if "status" in r
                else "invalid_emails" if "reason" in r
                else "group_unsubscribes" if _first(r, "group", "groupname", "groupid",
                                                     "asmgroupid") else "unsubscribes")
    reason_text = str(_first(r, "reason") or "")
    if kind == "bounces":
        status = str(_first(r, "status") or "")
        return [_rec(email, _status_reason(status), "sendgrid", at,
                     f"sendgrid bounce {status} {reason_text}")]
    if kind == "blocks":
        # A block says the receiving server refused the sender (IP, content), not that
        # the mailbox is dead: an expiring pause, never a hard bounce.
        return [_rec(email, "soft_bounce", "sendgrid", at, f"sendgrid block {reason_text}",
                     expires_at=(at or 0.0) + SOFT_PAUSE_DAYS * DAY if at else None)]
    if kind == "spam_reports":
        return [_rec(email, "complaint", "sendgrid", at,
                     f"sendgrid spam report from {_first(r, 'ip') or '?'}")]
    if kind == "invalid_emails":
        return [_rec(email, "hard_bounce", "sendgrid", at, f"sendgrid invalid {reason_text}")]
    if kind == "group_unsubscribes":
        group = _first(r, "groupname", "group", "asmgroupid", "groupid")
        return [_rec(email, "unsubscribe", "sendgrid", at, f"sendgrid group {group}",
                     scope=f"list:{_token(str(group))}" if group else None)]
    if kind == "unsubscribes":
        return [_rec(email, "unsubscribe", "sendgrid", at, "sendgrid global unsubscribe")]
    raise RowError(f"unknown SendGrid list kind {kind!r}")


def mailgun(row: Row, kind: str | None) -> list[Record]:
    """Suppressions > (Bounces | Unsubscribes | Complaints) > Download CSV, or the API's
    JSON items."""
    r = _norm(row)
    email = _first(r, "address", "email", "recipient")
    at = _time(_first(r, "createdat", "created"))
    if kind is None:
        kind = ("bounces" if "code" in r or "error" in r else
                "unsubscribes" if "tags" in r or "tag" in r else "complaints")
    if kind == "bounces":
        code = str(_first(r, "code") or "")
        return [_rec(email, _status_reason(code), "mailgun", at,
                     f"mailgun bounce {code} {_first(r, 'error') or ''}")]
    if kind == "unsubscribes":
        raw = _first(r, "tags", "tag")
        tags = raw if isinstance(raw, list) else [t for t in str(raw or "*").replace(
            ";", ",").split(",")]
        tags = [t.strip() for t in tags if str(t).strip()] or ["*"]
        return [_rec(email, "unsubscribe", "mailgun", at, f"mailgun unsubscribe tag {t}",
                     scope=None if t == "*" else f"list:{_token(t)}") for t in tags]
    if kind == "complaints":
        return [_rec(email, "complaint", "mailgun", at, "mailgun complaint")]
    raise RowError(f"unknown Mailgun list kind {kind!r}")


def mailchimp(row: Row, kind: str | None) -> list[Record]:
    """Audience > Export: unsubscribed_members_export_*.csv (UNSUB_TIME, UNSUB_REASON,
    UNSUB_CAMPAIGN_TITLE) and cleaned_members_export_*.csv (CLEAN_TIME: hard bounced, or
    soft bounced until Mailchimp gave up). Times are UTC."""
    r = _norm(row)
    email = _first(r, "emailaddress", "email")
    if _first(r, "unsubtime") is not None or kind == "unsubscribed":
        why = " ".join(str(x) for x in (_first(r, "unsubreason"), _first(r, "unsubreasonother"))
                       if x)
        camp = _first(r, "unsubcampaigntitle", "unsubcampaignid")
        return [_rec(email, "unsubscribe", "mailchimp", _time(_first(r, "unsubtime")),
                     f"mailchimp unsubscribe {why}" + (f" (campaign {camp})" if camp else ""))]
    if _first(r, "cleantime") is not None or kind == "cleaned":
        camp = _first(r, "cleancampaigntitle", "cleancampaignid")
        return [_rec(email, "hard_bounce", "mailchimp", _time(_first(r, "cleantime")),
                     "mailchimp cleaned" + (f" (campaign {camp})" if camp else ""))]
    raise RowError("neither UNSUB_TIME nor CLEAN_TIME: not an unsubscribed or cleaned "
                   "member (a subscribed export is no suppression list)")


_BREVO = {
    "hardbounce": "hard_bounce", "softbounce": "soft_bounce", "invalid": "hard_bounce",
    "invalidemail": "hard_bounce", "contactflaggedasspam": "complaint", "spam": "complaint",
    "markedasspam": "complaint", "complaint": "complaint", "adminblocked": "admin",
    "blockedbyadmin": "admin", "unsubscribedviaemail": "unsubscribe",
    "unsubscribedviaapi": "unsubscribe", "unsubscribedviama": "unsubscribe",
    "unsubscribedviasubscriptionpage": "unsubscribe", "unsubscribed": "unsubscribe",
    "unsubscribe": "unsubscribe",
}


def brevo(row: Row, kind: str | None) -> list[Record]:
    """Contacts > Blocklisted contacts export (often ';'-separated) or the transactional
    blocked-contacts API (email, reason.code, blockedAt); a contacts export with the
    EMAIL_BLACKLISTED attribute takes only the rows where it is yes/true."""
    r = _norm(row)
    email = _first(r, "email", "emailaddress", "contact")
    at = _time(_first(r, "blockedat", "date", "blacklistedat", "unsubscriptiondate",
                      "createdat", "modifiedat"))
    raw = _first(r, "reasoncode", "reason", "blocktype", "type")
    if isinstance(raw, dict):
        raw = raw.get("code") or raw.get("message")
    flag = _first(r, "emailblacklisted", "blacklisted", "blocklisted")
    if raw is None and flag is not None:
        if str(flag).strip().lower() not in ("1", "true", "yes", "y", "ja"):
            raise RowError("EMAIL_BLACKLISTED is not set: not a blocklisted contact")
        raw = "unsubscribed"
    code = "".join(ch for ch in str(raw or "").lower() if ch.isalnum())
    # An unknown block reason is still a block: an objection (fail safe: over-suppress).
    reason = _BREVO.get(code, "unsubscribe")
    return [_rec(email, reason, "brevo", at, f"brevo {raw or 'blocklisted'}")]


def ses(row: Row, kind: str | None) -> list[Record]:
    """Amazon SES account-level suppression list: `aws sesv2
    list-suppressed-destinations` items or the export job's rows (EmailAddress, Reason
    BOUNCE|COMPLAINT, LastUpdateTime), and the bulk-import CSV (emailAddress, reason)."""
    r = _norm(row)
    email = _first(r, "emailaddress", "email")
    what = str(_first(r, "reason") or "").strip().upper()
    at = _time(_first(r, "lastupdatetime", "lastupdatedtimestamp", "lastupdatetimestamp",
                      "createdtimestamp"))
    if what == "BOUNCE":
        return [_rec(email, "hard_bounce", "ses", at, "ses suppression list BOUNCE")]
    if what == "COMPLAINT":
        return [_rec(email, "complaint", "ses", at, "ses suppression list COMPLAINT")]
    raise RowError(f"Reason must be BOUNCE or COMPLAINT, got {what or 'nothing'!r}")


def generic(row: Row, kind: str | None) -> list[Record]:
    """consentry's own import/export shape (docs/consent.md), unchanged."""
    return [dict(row)]


def _token(value: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._:@+-/" else "-" for ch in value)[:128]


MAPPERS: dict[str, Callable[[Row, str | None], list[Record]]] = {
    "csv": generic, "jsonl": generic, "sendgrid": sendgrid, "mailgun": mailgun,
    "mailchimp": mailchimp, "brevo": brevo, "ses": ses,
}


def check_generic_header(names: Sequence[str]) -> str | None:
    """The generic CSV's header rule (unknown columns refuse the whole file)."""
    unknown = [h for h in names if h not in SUPPRESSION_FIELDS]
    if unknown or "address" not in names:
        return (f"CSV header: unknown column(s) {', '.join(unknown) or '-'}; known: "
                f"{', '.join(sorted(SUPPRESSION_FIELDS))} (nothing imported)")
    return None
