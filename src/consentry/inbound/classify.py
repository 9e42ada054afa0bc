"""The inbound ladder: what a message that came back means (Mailman's bounce ladder, VERP
first because it is cheap and certain).

    1. tokens    bounces+TOKEN@ / unsubscribe+TOKEN@ in the envelope, To, Delivered-To,
                 X-Original-To, Envelope-To, and our List-Unsubscribe in a returned
                 original: WHO it is about
    2. arf       feedback-loop complaint                      -> complaint
    3. dsn       delivery report (RFC 3464, MTA dialects, SES) -> bounce | delivered
    4. mailto    a message to unsubscribe+TOKEN@              -> unsubscribe
    5. auto      RFC 3834 and auto-responder habits            -> autoreply
    6. human     quote-stripped reply, intent                  -> unsubscribe | reply
    else                                                       -> unknown

Pure: the caller passes the bytes, the envelope and the options, and gets a Verdict it
can print (`consentry inbound classify`) or act on (the inbound listener).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..tokens import TOKEN_RE, TokenCodec, TokenError, find_token
from . import arf, autoreply, dsn, intent, reply
from .parse import Limits, MessageUnparseable, Parsed, ParseLimitExceeded, parse_message
from .textutil import addresses_in, first_address, norm

__all__ = ["Kind", "Options", "TokenHit", "Verdict", "classify", "classify_parsed"]

Kind = Literal["bounce", "complaint", "autoreply", "unsubscribe", "reply", "delivered",
               "unknown"]


SET_ASIDE_REVIEW = 2_000  # own-text characters removed as a signature that need a human


@dataclass(frozen=True, slots=True)
class Options:
    verp_prefix: str = "bounces"
    unsubscribe_prefix: str = "unsubscribe"
    domains: tuple[str, ...] = ()  # our bounce/reply domains (never a bounced recipient)
    intent_threshold: float = 0.8  # unsubscribe at or above, else reply flagged for review
    review_threshold: float = 0.3
    limits: Limits = field(default_factory=Limits)
    codec: TokenCodec | None = None  # verify token signatures when given
    now: float | None = None


@dataclass(frozen=True, slots=True)
class TokenHit:
    purpose: str  # bounce | unsubscribe
    token: str
    source: str  # envelope | to | delivered-to | ... | original:list-unsubscribe
    ref: str | None = None  # set when the signature was verified
    error: str | None = None  # why verification refused it

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"purpose": self.purpose, "source": self.source,
                             "verified": self.ref is not None}
        if self.ref is not None:
            d["ref"] = self.ref
        if self.error is not None:
            d["error"] = self.error
        return d


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: Kind
    recipients: tuple[dict[str, Any], ...] = ()
    intent_confidence: float | None = None
    review: bool = False
    evidence: tuple[str, ...] = ()
    tokens: tuple[TokenHit, ...] = ()
    sender: str | None = None
    message_id: str | None = None
    reply_to_ids: tuple[str, ...] = ()  # In-Reply-To/References: match against send records
    feedback_type: str | None = None
    # A bounce naming no recipient, to a VERP address: what its words say (the token
    # names the recipient; hard only on clear permanent indications).
    unaddressed: dict[str, Any] | None = None
    suppress: bool = False  # whether the kind asks for suppression at all
    text: str = ""  # the sender's own words (replies), for the review mailbox

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": self.kind,
            "recipients": list(self.recipients),
            "intent_confidence": self.intent_confidence,
            "review": self.review,
            "suppress": self.suppress,
            "evidence": list(self.evidence),
            "sender": self.sender,
            "message_id": self.message_id,
        }
        if self.tokens:
            d["tokens"] = [t.as_dict() for t in self.tokens]
        if self.reply_to_ids:
            d["in_reply_to"] = list(self.reply_to_ids)
        if self.feedback_type is not None:
            d["feedback_type"] = self.feedback_type
        if self.unaddressed is not None:
            d["unaddressed"] = self.unaddressed
        return d


_TOKEN_IN_TEXT = re.compile(r"(?<![a-z2-7])([a-z2-7]{48})(?![a-z2-7])", re.I)


def _token_hits(msg: Parsed, envelope_rcpts: Sequence[str], opts: Options) -> list[TokenHit]:
    raw: list[tuple[str, str, str]] = []  # purpose, token, source
    prefixes = {opts.verp_prefix: "bounce", opts.unsubscribe_prefix: "unsubscribe"}

    def scan(addr: str, source: str) -> None:
        local = addr.rpartition("@")[0]
        for prefix, purpose in prefixes.items():
            tok = find_token(local, prefix)
            if tok is not None:
                raw.append((purpose, tok, source))

    for a in envelope_rcpts:
        scan(a.strip("<>"), "envelope")
    for name in ("to", "cc", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to",
                 "x-original-rcpt-to"):
        for v in msg.headers.all(name):
            for a in addresses_in(v):
                scan(a, name)
    # A returned original carries our List-Unsubscribe (mailto and URL forms) and its
    # Return-Path: the token there names the recipient even when the report does not.
    for oh in msg.original_headers():
        for v in oh.all("return-path"):
            for a in addresses_in(v):
                scan(a, "original:return-path")
        for v in oh.all("list-unsubscribe"):
            for a in addresses_in(v):
                scan(a, "original:list-unsubscribe")
            for m in _TOKEN_IN_TEXT.finditer(v):
                tok = m.group(1).lower()
                if TOKEN_RE.match(tok) and not any(t == tok for _, t, _ in raw):
                    raw.append(("unsubscribe", tok, "original:list-unsubscribe-url"))
    out: list[TokenHit] = []
    seen: set[tuple[str, str]] = set()
    for purpose, tok, source in raw:
        if (purpose, tok) in seen:
            continue
        seen.add((purpose, tok))
        ref: str | None = None
        err: str | None = None
        if opts.codec is not None and opts.now is not None:
            try:
                claims = opts.codec.verify(tok, opts.now, purpose=None)
                ref = claims.ref
            except TokenError as exc:
                err = exc.reason
        out.append(TokenHit(purpose, tok, source, ref, err))
    return out


def _ours(addr: str, opts: Options) -> bool:
    dom = addr.rpartition("@")[2].lower().rstrip(".")
    return any(dom == d.lower() for d in opts.domains)


def _msgids(value: str | None) -> list[str]:
    if not value:
        return []
    return re.findall(r"<[^<>\s]{1,300}>", value)[:20]


def classify(data: bytes, envelope_rcpts: Sequence[str] = (), mail_from: str | None = None,
             opts: Options | None = None) -> Verdict:
    o = opts or Options()
    try:
        msg = parse_message(data, o.limits)
    except ParseLimitExceeded as exc:
        return Verdict("unknown", evidence=(f"parse refused: {exc}",))
    except MessageUnparseable as exc:
        return Verdict("unknown", evidence=(f"unparseable: {exc}",))
    return classify_parsed(msg, envelope_rcpts, mail_from, o)


def classify_parsed(msg: Parsed, envelope_rcpts: Sequence[str] = (),
                    mail_from: str | None = None, opts: Options | None = None) -> Verdict:
    o = opts or Options()
    tokens = tuple(_token_hits(msg, envelope_rcpts, o))
    sender = first_address(msg.get("from")) or (mail_from or None)
    mid = msg.get("message-id")
    refs = tuple(dict.fromkeys(_msgids(msg.get("in-reply-to")) + _msgids(msg.get("references"))))
    base: dict[str, Any] = {"tokens": tokens, "sender": sender,
                            "message_id": mid.strip()[:300] if mid else None,
                            "reply_to_ids": refs}
    tok_ev = tuple(f"token: {t.purpose} from {t.source}" + ("" if t.ref or t.error is None
                                                              else f" (refused: {t.error})")
                   for t in tokens)
    if msg.truncated:
        tok_ev += (f"parsed the first {o.limits.max_bytes} of {msg.size} bytes",)

    # 2. feedback-loop complaint
    c = arf.analyse(msg)
    if c.is_complaint:
        rcpts = tuple({"address": a, "status": "", "class": "complaint",
                       "reason": "complaint"} for a in c.recipients if not _ours(a, o))
        return Verdict("complaint", rcpts, None, not rcpts and not tokens,
                       tok_ev + c.evidence, feedback_type=c.feedback_type,
                       suppress=c.suppress, **base)

    # 3. delivery report
    has_verp = any(t.purpose == "bounce" and t.source in ("envelope", "to", "delivered-to",
                                                          "x-original-to", "envelope-to",
                                                          "x-envelope-to")
                   for t in tokens)
    report = dsn.analyse(msg)
    if not report.is_report and has_verp:
        forced = dsn.analyse(msg, force=True)
        auto = autoreply.analyse(msg, reply.latest_reply(msg).text)
        unaddressed = None if auto.is_auto or forced.failed else dsn.judge_text(msg)
        if not auto.is_auto and forced.failed:
            report = forced
        elif unaddressed is not None and unaddressed.coded and unaddressed.why != "none" \
                and not forced.successes:
            # Not recognisable as a report, but it came to our VERP return path and
            # carries an SMTP code with failure wording: a bounce of the token.
            report = dsn.DsnReport(True, (), (*forced.evidence,
                                              "VERP return path: failure wording with a code"))
    if report.is_report:
        failed = [r for r in report.failed if not _ours(r.address, o)]
        if failed:
            rcpts = tuple(r.as_dict() for r in failed)  # with the rule that decided
            suppress = any(r.action == "failed" for r in failed)
            return Verdict("bounce", rcpts, None, False, tok_ev + report.evidence,
                           suppress=suppress, **base)
        if report.successes:
            rcpts = tuple({"address": r.address, "status": r.status, "class": "",
                           "reason": "delivered", "action": r.action}
                          for r in report.successes)
            return Verdict("delivered", rcpts, None, False,
                           (*tok_ev, *report.evidence, "success/delay report: never suppresses"),
                           **base)
        if any(t.purpose == "bounce" for t in tokens):
            # A bounce we cannot read, to a VERP address: the token names the recipient.
            # Its words decide hard or soft (SPEC §4): hard only on a permanent code or
            # wording together with an unknown-user/domain phrase, else counted as soft.
            tj = dsn.judge_text(msg)
            how = (f"no recipient in the report: the VERP token decides, {tj.klass} "
                   f"({tj.reason}, {tj.why}" + (f", {tj.status or tj.reply_code}"
                                                if tj.status or tj.reply_code else "") + ")")
            return Verdict("bounce", (), None, True, (*tok_ev, *report.evidence, how),
                           unaddressed=tj.as_dict(), suppress=True, **base)
        return Verdict("bounce", (), None, True,
                       (*tok_ev, *report.evidence, "report without a readable recipient"),
                       **base)

    own = reply.latest_reply(msg)
    auto = autoreply.analyse(msg, own.text)

    # 4. mailto: unsubscribe (RFC 2369/8058): the message itself is the request.
    unsub_tokens = [t for t in tokens if t.purpose == "unsubscribe" and t.source in (
        "envelope", "to", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to")]
    if unsub_tokens and not (auto.is_auto and auto.strength == "header"):
        rc = ({"address": sender, "status": "", "class": "", "reason": "objection"},
              ) if sender else ()
        return Verdict("unsubscribe", rc, 1.0, False,
                       (*tok_ev, "mailto unsubscribe address"), suppress=True, text=own.text,
                       **base)

    # 5. automatic reply. Its text is read too: a person who writes "I'm travelling
    # until May; please take me off your list" has written an objection, and so has one
    # whose out-of-office text asks to be removed from mailing lists. Only a text that
    # does not say a machine sent it (no header, no subject label, no "this is an
    # automatic reply" or unread-mailbox wording) is taken for a person's.
    # That one is read as a human reply is, subject too (it carries no responder label);
    # the reading is kept for step 6.
    it: intent.Intent | None = None
    # Only the subject says "Automatic reply:" and the text says nothing a responder says
    # ("Sorry for the automatic reply below, I'm back. Please take me off this list"):
    # a person answered under their own out-of-office's subject.
    person = auto.strength == "text" or (auto.strength == "subject" and bool(own.text)
                                         and not autoreply.automatic_wording(own.text))
    if auto.is_auto and own.text:
        it = intent.detect(own.text, msg.subject if auto.strength == "text" else "")
    if it is not None and it.confidence >= o.intent_threshold and not person:
        # Headers, a subject label or its own words say a machine sent it: an
        # out-of-office text someone set. Whether it objects is for a human.
        return Verdict("autoreply", (), 0.0, True, (
            *tok_ev, *auto.evidence, *it.evidence,
            f"objection in an automatic reply: {it.sentence[:120]}; flagged for review"),
            text=own.text, **base)
    if auto.is_auto and (it is None or it.confidence < o.intent_threshold):
        return Verdict("autoreply", (), 0.0, False, tok_ev + auto.evidence, text=own.text,
                       **base)

    # 6. human reply
    if not own.text and not msg.subject.strip():
        return Verdict("unknown", (), None, True, (*tok_ev, "no text and no subject"), **base)
    if it is None:
        it = intent.detect(own.text, msg.subject)
    if it.confidence < o.intent_threshold:
        # "Nein danke" to "Möchten Sie die Weinpost weiterhin bekommen?" (re-permission);
        # "Still getting them!" under our "You have been unsubscribed"
        full = reply.body_text(msg)
        quoted = _below_own(full, own.text)
        for answer in (intent.declines_continuing(own.text, msg.subject, quoted)
                       if it.confidence < o.review_threshold else None,
                       intent.still_after_confirmation(own.text, msg.subject, quoted),
                       intent.affirms_quoted_unsubscribe(own.text, full)
                       if it.confidence < o.review_threshold else None):
            if answer is not None and answer.confidence > it.confidence:
                it = answer
    ev = (*tok_ev, *own.evidence, *it.evidence)
    conf, flagged = it.confidence, it.review
    if auto.is_auto:
        # Only its wording looked automatic ("I'm away until Monday"), and it objects:
        # a person's reply until a human says otherwise; honoured, and shown to one.
        flagged = True
        ev = (*ev, f"reads like an automatic reply ({auto.evidence[0]}) but objects: "
                   "flagged for review")
    if own.set_aside > SET_ASIDE_REVIEW:
        # Much of what the sender wrote was taken for a signature, disclaimer or closing
        # and not read (a long complaint cut after its first paragraph): a human reads it.
        flagged = True
        ev = (*ev, f"own text set aside: {own.set_aside} characters taken for a "
                   "signature or closing, flagged for review")
    said = it.sentence
    if conf < o.review_threshold and own.aside_text:
        # An objection in what was set aside as a signature or closing ("PS: please
        # remove me" below the sign-off) is most likely the sender's: a human reads it.
        # Only a postscript is honoured: a signature may carry a company's own newsletter
        # footer.
        aside = intent.detect(own.aside_text)
        if aside.confidence >= o.intent_threshold and intent.in_postscript(
                own.aside_text, aside.sentence):
            # "PS: Könnt ihr mich bitte aus dem Verteiler nehmen?" below the sign-off: a
            # postscript is the sender's by definition (no footer opens with "PS").
            conf, flagged, said = aside.confidence, True, aside.sentence
            ev = (*ev, f"objection in a postscript below the sign-off: "
                       f"{aside.sentence[:120]}; honoured, flagged for review")
        elif aside.confidence >= o.intent_threshold:
            conf, flagged = max(conf, 0.5), True
            ev = (*ev, f"objection in text set aside as signature: {aside.sentence[:120]}; "
                       "flagged for review")
    others = sorted({a for a in addresses_in(said) if norm(a) != norm(sender or "")})
    # the To of the quoted or enclosed newsletter, read once, when an address may matter
    went = _quoted_to(msg, own.text) if others or conf >= o.intent_threshold else set()
    if (it.rule.startswith("about another person") and len(others) == 1
            and norm(others[0]) in went):
        # "As my colleague asks below: please strike x@y from the list", above our
        # newsletter to x@y: the other person is named by the address we mailed.
        conf, flagged = max(conf, o.intent_threshold), True
    if not others and conf >= o.intent_threshold and not _FIRST_PERSON.search(said):
        # "One of our users (x@y) reported the attached message … Please remove the
        # address": named in an earlier sentence, and the one the enclosed or quoted
        # newsletter went to. The objection is for it (below), not for the sender.
        mentioned = {norm(a): a for a in addresses_in(own.text)
                     if norm(a) != norm(sender or "") and norm(a) in went}
        if len(mentioned) == 1:
            others = list(mentioned.values())
    objector = sender
    if conf >= o.intent_threshold and len(others) == 1 and not _FIRST_PERSON.search(
            said) and norm(others[0]) in went:
        # "Please take my boss (x@y) off your list" above our newsletter to x@y, forwarded
        # or quoted with its header: the objection is for the mailbox the newsletter went
        # to, by someone who holds it. That address is suppressed, not the sender's; a
        # human is shown it.
        objector, flagged = others[0], True
        ev = (*ev, f"objection for {others[0][:80]}, the address the quoted newsletter "
                   "went to: honoured for that address, flagged for review")
    elif conf >= o.intent_threshold and others:
        # "Please remove my former colleague (x@y)": the objection names an address not
        # the sender's, and nothing quoted shows our mail went to it. Whom it is about is
        # for a human to say; suppressing the sender would be wrong, and so would
        # guessing. The one address named goes with the verdict: if the send record of
        # the message replied to says it went there, that is the evidence (inbound_apply).
        conf, flagged = min(conf, 0.5), True
        ev = (*ev, f"names another address ({others[0][:80]}): flagged for review")
        if len(others) == 1:
            named = ({"address": others[0], "status": "", "class": "",
                      "reason": "objection_named"},)
            return Verdict("reply", named, conf, True, ev, text=own.text, **base)
    if conf >= o.intent_threshold:
        rc = ({"address": objector, "status": "", "class": "", "reason": "objection"},
              ) if objector else ()
        return Verdict("unsubscribe", rc, conf, flagged, ev, suppress=True,
                       text=own.text, **base)
    review = flagged or conf >= o.review_threshold
    return Verdict("reply", (), conf, review, ev, text=own.text, **base)


# The recipient line of a quoted or forwarded message's header block, in the languages
# mail clients write it in.
_QUOTED_TO = re.compile(
    r"^[ \t>]*(?:to|an|[àa]|para|aan|til|till|do|c[íi]mzett|komu|kam|kime|kellele|saaja|"
    r"kenelle|vastaanottaja|destinatario|destinataire|adres[áa]t|πρ[όο]ς|кому)[ \t]*:[ \t]*"
    r"(.{1,1000})$", re.I | re.M)


# "… wants to stay (x@y), please remove me instead": an objection sentence with the
# sender as an object is not one on another's behalf.
_FIRST_PERSON = re.compile(r"\b(?:me|mich|moi|mij|mnie|meg|mig)\b", re.I)


def _quoted(msg: Parsed, own_text: str) -> str:
    """The body text below the sender's own words (the quote or forward), or the whole
    body when the own words are not its start."""
    return _below_own(reply.body_text(msg), own_text)


def _below_own(full: str, own_text: str) -> str:
    return full[len(own_text):] if full.startswith(own_text) else full


def _quoted_to(msg: Parsed, own_text: str) -> set[str]:
    """Addresses on the To lines of the header blocks quoted below the sender's own
    words (a forwarded or quoted newsletter), and on the To of a message enclosed whole."""
    out = {norm(a) for m in _QUOTED_TO.finditer(_quoted(msg, own_text)[:200_000])
           for a in addresses_in(m.group(1))}
    for enclosed in msg.enclosed():
        out.update(norm(a) for v in enclosed.headers.all("to") for a in addresses_in(v))
    return out


def sender_key(v: Verdict) -> str | None:
    return norm(v.sender) if v.sender else None
