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

from . import headers, tracking
from .address import Address
from .config import Config
from .dkim import DkimError, DkimSigner, from_domain
from .model import Decision, MessageFacts
from .rawmsg import RawMessage
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
        for d in allowed:
            a = addresses.get(d.recipient)
            key = a.key if a is not None else d.recipient.lower()
            ref = (known or {}).get(key) or self.codec.reference(key, scope, facts.campaign)
            refs.append(ref)
            token = self.codec.issue(ref, now)
            links = headers.make_links(token, self.base_url, u.mailto_local, u.mailto_domain)
            m = headers.apply_list_unsubscribe(stripped if d.recipient in strip_for else msg,
                                               links, u.existing, self.own_prefixes)
            extra = list(common)
            trace = (self.codec.issue(ref, now, purpose="bounce")
                     if u.trace_header or u.cfbl_address is not None or self.verp_at
                     else "")
            verp = f"{self.verp_local}+{trace}{self.verp_at}" if self.verp_at else None
            if u.trace_header or u.cfbl_address is not None:
                if u.trace_header:
                    extra.append((headers.TRACE_HEADER, trace))
                if u.cfbl_address is not None:
                    extra.append(("CFBL-Feedback-ID", trace))
            m = headers.set_fields(m, extra)
            copies.append(self._sign(Copy((d.recipient,), m.to_bytes(), token, verp), m,
                                     log))
        return Prepared(copies, refs, log)

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
