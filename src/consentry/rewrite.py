"""The rewrite stage: turn one accepted message into the copies that leave.

    tracking strip (recipients without tracking consent) → per-recipient headers
    (List-Unsubscribe, -Post, Feedback-ID, CFBL, trace token) → DKIM sign + self-check

Marketing mail (``unsubscribe.classes``) gets one copy per allowed recipient, each with
its own token; other mail stays one copy for all recipients. Pure except for the clock
value handed in; the token references it returns must be stored before any copy leaves.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import headers, rawmsg, tracking
from .address import Address
from .config import Config
from .dkim import DkimError, DkimSigner, from_domain
from .model import Decision, MessageFacts
from .rawmsg import HeaderField, RawMessage
from .tokens import TokenCodec, TokenRef, scope_for


class RewriteRefused(Exception):
    """The message must not leave as it is (footer check in refuse mode)."""


class TrackingUncheckable(RewriteRefused):
    """Tracking must be stripped for some recipient, but part of the HTML could not be
    walked: nested deeper or split into more parts than the walker follows, or an HTML
    part in an unknown charset or a broken transfer encoding (which mail clients often
    still render). Sending it unchecked could deliver an open pixel to a person who did
    not consent to tracking, so it is refused (fail safe)."""


class RewriteTemporary(Exception):
    """DKIM could not be applied as configured: answer 451, relay nothing."""


@dataclass(frozen=True, slots=True)
class Copy:
    recipients: tuple[str, ...]  # raw envelope addresses
    content: bytes
    token: str | None = None
    # The envelope sender this copy leaves with: bounces+TOKEN@inbound.domain when
    # inbound.verp is on (a bounce token over the same reference as the List-Unsubscribe
    # token, so it is stored in the same round trip), else None (the client's sender).
    mail_from: str | None = None
    # The DATA payload (rawmsg.data_payload of content) in pieces when the copy was
    # built from parts shared by the message's copies: the copy's own fields, then the
    # pieces of the rest's payload, the same objects for all copies (never held once
    # per copy); None: the deliverer computes it from content.
    payload: tuple[bytes, ...] | None = field(default=None, repr=False, compare=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(slots=True)
class Prepared:
    copies: list[Copy]
    refs: list[TokenRef] = field(default_factory=list)
    log: dict[str, Any] = field(default_factory=dict)
    replies: dict[str, str] = field(default_factory=dict)  # per copy, filled by delivery
    _shas: dict[str, str] | None = None

    def shas(self) -> dict[str, str]:
        """recipient -> SHA-256 of the copy it got, each copy hashed once per message
        (the decision log and the send record both ask, once per recipient)."""
        if self._shas is None:
            self._shas = {}
            for c in self.copies:
                digest = c.sha256
                for r in c.recipients:
                    self._shas.setdefault(r, digest)
        return self._shas


@dataclass(frozen=True, slots=True)
class _Shared:
    theirs: list[str] | None
    rest: RawMessage
    rest_bytes: bytes
    payload: tuple[bytes, ...] | None  # rawmsg.data_payload_parts(rest_bytes)


class Rewriter:
    def __init__(self, cfg: Config, codec: TokenCodec, signer: DkimSigner | None,
                 base_url: str | None) -> None:
        self.cfg = cfg
        self.codec = codec
        self.signer = signer
        self.base_url = base_url
        self.rules = tracking.TrackingRules.build(
            cfg.tracking.hosts, cfg.tracking.redirect_params, cfg.tracking.redirect_patterns,
            cfg.tracking.strip_tiny_images)
        self.footer = re.compile(cfg.unsubscribe.footer_pattern)
        u = cfg.unsubscribe
        self.own_prefixes: tuple[str, ...] = tuple(
            p for p in ((f"{base_url.rstrip('/')}/u/" if base_url else None),
                        (f"mailto:{u.mailto_local}+" if u.mailto_domain else None)) if p)
        ib = cfg.inbound
        self.verp_at: str | None = (f"@{ib.domain}" if ib.verp and ib.domain else None)
        self.verp_local = ib.verp_local

    @property
    def has_links(self) -> bool:
        return bool(self.base_url or self.cfg.unsubscribe.mailto_domain)

    def applies(self, facts: MessageFacts) -> bool:
        u = self.cfg.unsubscribe
        return u.enabled and self.has_links and facts.message_class in u.classes

    def refs_ahead(self, facts: MessageFacts, addresses: Sequence[Address]) -> list[TokenRef]:
        """The token references prepare() issues for these recipients (it derives the
        same ones: keyed hashes of recipient, scope and campaign), known before the
        lookup so the relay stores them in the lookup's round trip instead of one of
        their own. A suppressed recipient's reference is stored too, unused."""
        if not self.applies(facts):
            return []
        scope = scope_for(facts.list_name)
        return [self.codec.reference(a.key, scope, facts.campaign) for a in addresses]

    def prepare(self, msg: RawMessage, facts: MessageFacts, allowed: list[Decision],
                addresses: dict[str, Address], now: float,
                known: Mapping[str, TokenRef] | None = None) -> Prepared:
        """`known`: references already derived for this message (refs_ahead), by
        recipient key; they are reused, not derived again."""
        log: dict[str, Any] = {}
        t = self.cfg.tracking
        stripped = msg
        strip_for = {d.recipient for d in allowed
                     if t.enabled and facts.message_class in t.classes and not d.tracking}
        if strip_for:
            res = tracking.strip(msg, self.rules)
            stripped = res.message
            if res.removals or res.skipped:
                log["tracking_removed"] = [r.as_log() for r in res.removals[:50]]
                log["tracking_skipped"] = res.skipped[:10]
            blind = [r for r in res.skipped if r.startswith("text/html") or "limit" in r]
            if blind:
                raise TrackingUncheckable("; ".join(blind[:3]))
        u = self.cfg.unsubscribe
        if u.footer_check != "off" and facts.message_class in u.classes \
                and not tracking.has_optout(msg, self.footer):
            log["footer"] = "missing"
            if u.footer_check == "refuse":
                raise RewriteRefused("no visible opt-out link in the body")
        common: list[tuple[str, str]] = []
        if u.feedback_id is not None:
            common.append(("Feedback-ID", headers.feedback_id(
                u.feedback_id, facts.campaign, facts.list_name, facts.message_class)))
        if u.cfbl_address is not None:
            common.append(("CFBL-Address", u.cfbl_address))

        if not self.applies(facts):
            base = stripped if strip_for else msg
            out = headers.set_fields(base, common)
            return Prepared([self._sign(Copy(tuple(d.recipient for d in allowed),
                                             out.to_bytes()), out, log)], log=log)

        self._check_sender_signatures(msg, stripped is not msg, log)
        copies: list[Copy] = []
        refs: list[TokenRef] = []
        scope = scope_for(facts.list_name)
        want_trace = bool(u.trace_header or u.cfbl_address is not None or self.verp_at)
        shared: dict[bool, _Shared] = {}  # per base message (tracking stripped or not)
        common_fields = [rawmsg.make_field(n, v) for n, v in common]
        trace_names = ([headers.TRACE_HEADER] if u.trace_header else []) + (
            ["CFBL-Feedback-ID"] if u.cfbl_address is not None else [])
        for d in allowed:
            a = addresses.get(d.recipient)
            key = a.key if a is not None else d.recipient.lower()
            ref = (known or {}).get(key) or self.codec.reference(key, scope, facts.campaign)
            refs.append(ref)
            token = self.codec.issue(ref, now)
            links = headers.make_links(token, self.base_url, u.mailto_local, u.mailto_domain)
            strip = d.recipient in strip_for
            sh = shared.get(strip)
            if sh is None:
                sh = shared[strip] = self._shared(stripped if strip else msg, links, common)
            trace = self.codec.issue(ref, now, purpose="bounce") if want_trace else ""
            verp = f"{self.verp_local}+{trace}{self.verp_at}" if self.verp_at else None
            new = list(common_fields)
            if trace_names:  # the token alphabet is a-z2-7: nothing to check
                tb = trace.encode("ascii")
                new += [HeaderField(n, b"%s: %s\r\n" % (n.encode("ascii"), tb))
                        for n in trace_names]
            if sh.theirs is not None:
                new += headers.unsubscribe_fields(links, sh.theirs)
            prefix = b"".join(f.raw for f in new)
            content = prefix + sh.rest_bytes
            if self.signer is not None:
                m = RawMessage(tuple(new) + sh.rest.fields, sh.rest.separator,
                               sh.rest.body)
                copies.append(self._sign(Copy((d.recipient,), content, token, verp), m, log))
                continue
            # Our fields' lines start with their names or a folding space, never a dot.
            payload = ((prefix, *sh.payload)
                       if sh.payload is not None and b"\n." not in prefix else None)
            copies.append(Copy((d.recipient,), content, token, verp, payload))
        return Prepared(copies, refs, log)

    def _shared(self, base: RawMessage, links: headers.UnsubscribeLinks,
                common: Sequence[tuple[str, str]]) -> _Shared:
        """What every copy made from `base` has in common, worked out once: the sender's
        List-Unsubscribe URIs that follow ours (or None: the sender's field stays), and
        the message without every field the copies set, as bytes and as DATA payload.
        A copy is then its own fields followed by these bytes: the fields and order of
        headers.apply_list_unsubscribe followed by headers.set_fields."""
        u = self.cfg.unsubscribe
        theirs = headers.sender_uris(base, u.existing, self.own_prefixes,
                                     headers.MAX_URIS - len(links.uris))
        names = {n.lower() for n, _ in common}
        if u.trace_header:
            names.add(headers.TRACE_HEADER.lower())
        if u.cfbl_address is not None:
            names.add("cfbl-feedback-id")
        if theirs is not None:
            names |= headers.UNSUBSCRIBE_FIELDS
        rest = base.without(frozenset(names))
        rest_bytes = rest.to_bytes()
        # data_payload(prefix + rest) == prefix + data_payload(rest) when prefix is whole
        # CRLF-ended lines and rest is not empty (an empty rest gets no CRLF of its own).
        payload = rawmsg.data_payload_parts(rest_bytes) if rest_bytes else None
        return _Shared(theirs, rest, rest_bytes, payload)

    def _check_sender_signatures(self, msg: RawMessage, body_changed: bool,
                                 log: dict[str, Any]) -> None:
        """A sender's own DKIM signature over List-Unsubscribe (common at ESPs) or over a
        body we stripped no longer verifies after the rewrite. With our own key for the
        From domain that is harmless (ours is aligned); without one, say so in the log."""
        if self.signer is not None and self.signer.key_for(from_domain(msg)) is not None:
            return
        ours = {headers.LIST_UNSUBSCRIBE, headers.LIST_UNSUBSCRIBE_POST, "feedback-id",
                "cfbl-address", "cfbl-feedback-id", headers.TRACE_HEADER.lower()}
        for f in msg.fields:
            if f.lname != "dkim-signature":
                continue
            tags = dict(t.strip().partition("=")[::2] for t in f.value().split(";"))
            signed = {h.strip().lower() for h in tags.get("h", "").split(":")}
            if body_changed or signed & ours:
                log["sender_dkim"] = (f"signature d={tags.get('d', '?').strip()[:60]} will "
                                      "not verify after the rewrite: configure dkim.keys "
                                      "for this domain")
                return

    def _sign(self, copy: Copy, msg: RawMessage, log: dict[str, Any]) -> Copy:
        if self.signer is None:
            return copy
        try:
            signed = self.signer.sign(copy.content, msg)
        except DkimError as exc:
            raise RewriteTemporary(str(exc)) from None
        if signed is None:
            log["dkim"] = "no key for the From domain"
            if self.cfg.dkim.unsigned == "tempfail":
                raise RewriteTemporary("no DKIM key for the From domain")
            return copy
        log["dkim"] = "signed"
        return Copy(copy.recipients, signed, copy.token, copy.mail_from)
