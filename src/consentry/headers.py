"""Pure, idempotent List-Unsubscribe (RFC 2369) / List-Unsubscribe-Post (RFC 8058) rewrite,
plus the other per-recipient header fields (Feedback-ID, RFC 9477 CFBL, trace token).

Only values we built reach a header: the token alphabet is ``a-z2-7``, and base URL,
mailto domain and local part were checked by config.py to hold no CR, LF, space, ``<``,
``>`` or comma (RELIABILITY H4). A sender's own URIs are re-emitted in merge mode only if
they match a strict URI shape. Rewrites delete, then add (Mailman's habit), so applying
the same rewrite twice gives the same message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .rawmsg import HeaderField, RawMessage, make_field

ExistingMode = Literal["replace", "keep", "merge"]

LIST_UNSUBSCRIBE = "list-unsubscribe"
LIST_UNSUBSCRIBE_POST = "list-unsubscribe-post"
ONE_CLICK = "List-Unsubscribe=One-Click"
TRACE_HEADER = "X-Consentry-Trace"
MAX_URI = 900  # a folded line of its own must stay under RFC 5322's 998 octets
MAX_URIS = 4

_URI_IN_BRACKETS = re.compile(r"<([^<>]*)>")
_SAFE_URI = re.compile(r"^(?:https?|mailto):[\x21-\x7e]+$")
_FORBIDDEN_IN_URI = re.compile(r"[<>\"\s\\]")
_FEEDBACK_FIELD = re.compile(r"[^A-Za-z0-9._@+\-/]")


@dataclass(frozen=True, slots=True)
class UnsubscribeLinks:
    https: str | None
    mailto: str | None

    @property
    def uris(self) -> list[str]:
        return [u for u in (self.https, self.mailto) if u]


def make_links(token: str, base_url: str | None, mailto_local: str,
               mailto_domain: str | None) -> UnsubscribeLinks:
    https = f"{base_url.rstrip('/')}/u/{token}" if base_url else None
    mailto = (f"mailto:{mailto_local}+{token}@{mailto_domain}?subject=unsubscribe"
              if mailto_domain else None)
    for u in (https, mailto):
        if u is not None and not is_safe_uri(u):
            raise ValueError("unsubscribe URI contains forbidden characters")
    return UnsubscribeLinks(https, mailto)


def is_safe_uri(uri: str) -> bool:
    return (len(uri) <= MAX_URI and bool(_SAFE_URI.match(uri))
            and not _FORBIDDEN_IN_URI.search(uri))


def parse_uris(value: str) -> list[str]:
    """The ``<…>`` URIs of a List-Unsubscribe value, in order (RFC 2369 §2)."""
    return [m.group(1).strip() for m in _URI_IN_BRACKETS.finditer(value)]


def list_unsubscribe_field(uris: Sequence[str]) -> HeaderField:
    if not uris:
        raise ValueError("no URI")
    for u in uris:
        if not is_safe_uri(u):
            raise ValueError("unsafe URI")
    return _list_unsubscribe(uris)


def _list_unsubscribe(uris: Sequence[str]) -> HeaderField:
    """The field for URIs already checked (is_safe_uri)."""
    if not uris:
        raise ValueError("no URI")
    # One URI per line: each fold is CRLF + space, so long URIs never need splitting.
    value = ",\r\n ".join([f"<{u}>" for u in uris])
    return HeaderField("List-Unsubscribe", f"List-Unsubscribe: {value}\r\n".encode("ascii"))


def apply_list_unsubscribe(msg: RawMessage, links: UnsubscribeLinks, mode: ExistingMode,
                           own_prefixes: Sequence[str] = ()) -> RawMessage:
    """Set List-Unsubscribe (https first: mailbox providers act on the first URI) and,
    only when an https URI of ours is there to POST to, List-Unsubscribe-Post.

    replace: the sender's fields are removed. keep: a message that already has a
    List-Unsubscribe is left alone. merge: ours first, then the sender's safe URIs that
    are not ours (``own_prefixes``) and not duplicates, in one field.
    """
    ours = links.uris
    if not ours:
        return msg
    if not all(is_safe_uri(u) for u in ours):  # links built other than by make_links
        raise ValueError("unsafe URI")
    theirs = sender_uris(msg, mode, own_prefixes, MAX_URIS - len(ours), ours)
    if theirs is None:
        return msg
    return msg.without(UNSUBSCRIBE_FIELDS).with_prepended(unsubscribe_fields(links, theirs))


UNSUBSCRIBE_FIELDS = frozenset({LIST_UNSUBSCRIBE, LIST_UNSUBSCRIBE_POST})
_ONE_CLICK_FIELD = make_field("List-Unsubscribe-Post", ONE_CLICK)


def sender_uris(msg: RawMessage, mode: ExistingMode, own_prefixes: Sequence[str],
                room: int, ours: Sequence[str] = ()) -> list[str] | None:
    """The half of apply_list_unsubscribe that does not depend on the token, so one
    message's copies share it: None when the message keeps its own field (keep mode and
    it has one), else the sender's URIs that follow ours (merge mode; at most `room`),
    else []. A URI equal to one of `ours` is left out; when every URI of ours starts
    with one of `own_prefixes` (the Rewriter's), that holds for every token."""
    existing = [f for f in msg.fields if f.lname == LIST_UNSUBSCRIBE]
    if mode == "keep" and existing:
        return None
    theirs: list[str] = []
    if mode == "merge":
        for f in existing:
            for u in parse_uris(f.value()):
                if (len(theirs) < room and is_safe_uri(u) and u not in theirs
                        and u not in ours
                        and not any(u.startswith(p) for p in own_prefixes)):
                    theirs.append(u)
    return theirs


def unsubscribe_fields(links: UnsubscribeLinks, theirs: Sequence[str]) -> list[HeaderField]:
    """List-Unsubscribe with our URIs, then `theirs` (sender_uris), and
    List-Unsubscribe-Post when an https URI of ours is there to POST to. Every URI has
    been checked already: ours by make_links, the sender's by sender_uris."""
    lu = _list_unsubscribe([*links.uris, *theirs])
    return [lu, _ONE_CLICK_FIELD] if links.https is not None else [lu]


def feedback_id(template: str, campaign: str | None, list_name: str | None,
                message_class: str) -> str:
    """Gmail's Feedback-ID ``a:b:c:SenderId``: colons separate fields, so values lose them."""
    def clean(v: str | None) -> str:
        return _FEEDBACK_FIELD.sub("-", v or "none")[:64]

    return template.format(campaign=clean(campaign), list=clean(list_name),
                           **{"class": clean(message_class)})


def set_fields(msg: RawMessage, fields: Sequence[tuple[str, str]]) -> RawMessage:
    """Replace every field of these names by one with the given value (idempotent)."""
    if not fields:
        return msg
    names = frozenset(n.lower() for n, _ in fields)
    return msg.without(names).with_prepended([make_field(n, v) for n, v in fields])
