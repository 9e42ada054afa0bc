"""Message classification (SPEC §3): control headers, else rules, else the default.

Pure: reads header values and the envelope sender, returns MessageFacts.
"""

from __future__ import annotations

import fnmatch
import re

from .config import MESSAGE_CLASSES, ClassificationConfig
from .model import MessageFacts
from .rawmsg import RawMessage

CONTROL_HEADERS = frozenset({"x-consent-class", "x-consent-category", "x-consent-list",
                             "x-campaign-id"})
_SAFE_TOKEN = re.compile(r"[^A-Za-z0-9._:@+\-/]")
MAX_TOKEN = 128


def _clean(value: str | None) -> str | None:
    """Control header values end up in logs and Redis keys: keep a safe, short token."""
    if value is None:
        return None
    v = _SAFE_TOKEN.sub("", value.strip())[:MAX_TOKEN]
    return v or None


def classify(
    msg: RawMessage,
    mail_from: str,
    cfg: ClassificationConfig,
    control_headers_trusted: bool = True,
) -> MessageFacts:
    category: str | None = None
    list_name: str | None = None
    campaign: str | None = None
    if control_headers_trusted:
        category = _clean(msg.get("X-Consent-Category"))
        list_name = _clean(msg.get("X-Consent-List"))
        campaign = _clean(msg.get("X-Campaign-Id"))
    mid = msg.get("Message-ID")
    message_id = mid.strip()[:256] if mid is not None else None

    def facts(cls: str, by: str) -> MessageFacts:
        return MessageFacts(
            message_class=cls,
            classified_by=by,
            category=category,
            list_name=list_name,
            campaign=campaign,
            message_id=message_id,
            mail_from=mail_from,
        )

    if control_headers_trusted:
        declared_all = {f.value().strip().lower() for f in msg.fields
                        if f.lname == "x-consent-class"}
        if len(declared_all) > 1:
            # Two different declarations (a template's and the tool's): the message
            # does not say what it is, so it is advertising (fail safe), never the
            # friendlier first one.
            return facts("marketing", "header-conflict")
        declared = msg.get("X-Consent-Class")
        if declared is not None:
            value = declared.strip().lower()
            if value in MESSAGE_CLASSES:
                return facts(value, "header")
            # An unknown class is advertising until proven otherwise (fail safe).
            return facts("marketing", f"header-unknown:{_clean(value) or '?'}")
    for i, rule in enumerate(cfg.rules):
        if rule.mail_from is not None and not fnmatch.fnmatchcase(
            mail_from.lower(), rule.mail_from.lower()
        ):
            continue
        if rule.header is not None:
            hv = msg.get(rule.header)
            if hv is None:
                continue
            if rule.matches is not None and not re.search(rule.matches, hv, re.IGNORECASE):
                continue
        return facts(rule.message_class, f"rule[{i}]")
    return facts(cfg.default, "default")
