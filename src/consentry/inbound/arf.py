"""Feedback-loop complaints: RFC 5965 ARF reports (and their older and redacted forms)
and Amazon SES complaint notifications.

Who complained: ``Original-Rcpt-To`` (the address we sent to), ``Removal-Recipient``
(opt-out reports), else the ``To`` of the enclosed original when it holds one real
address. Providers redact the local part (RFC 6590: ``xxxxxxxx@domain``, ``redacted@``)
and some send no recipient at all; then the VERP token or our unsubscribe token in the
enclosed original's headers identifies the recipient (classify.py).

Which feedback types suppress: the recipient (or their provider on their behalf) said
"I do not want this": abuse, opt-out, fraud, virus, other. ``auth-failure`` (RFC 6591
DMARC/DKIM/SPF forensic reports) is about our authentication and ``not-spam`` says the
opposite of a complaint: both are recorded, never a suppression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .dsn import ses_notification
from .parse import Headers, Parsed, parse_header_block
from .textutil import addresses_in, first_address, norm, report_texts

__all__ = ["Complaint", "analyse"]

SUPPRESSING_TYPES = frozenset({"abuse", "opt-out", "optout", "fraud", "virus", "other",
                               "complaint", "unsubscribe"})

_REDACTED = re.compile(r"^(?:x{3,}|\*{2,}|redacted|#{3,}|_{3,}|\.{3,}|-{3,})$|redacted", re.I)
_ABUSE_TEXT = re.compile(
    r"this is an? (?:e-?mail )?(?:abuse|opt-?out|spam|fraud|complaint|feedback) report|"
    r"\babuse report for an e-?mail message\b|\bmarked (?:as|this (?:message|email) as) "
    r"(?:spam|junk)\b|\breported (?:as|this message as) (?:spam|junk)\b|"
    r"\bcomplaint (?:about|regarding) (?:a |an |this )?(?:message|e-?mail)\b",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Complaint:
    is_complaint: bool
    feedback_type: str = ""
    recipients: tuple[str, ...] = ()
    redacted: bool = False
    suppress: bool = False
    evidence: tuple[str, ...] = field(default_factory=tuple)
    original_message_id: str | None = None


def _report_fields(msg: Parsed) -> Headers | None:
    for p in msg.report_parts():
        if p.ctype == "message/feedback-report":
            return parse_header_block(p.text.replace("\n\n", "\n"))
    return None


def _usable(addr: str) -> bool:
    local = addr.rpartition("@")[0]
    return bool(local) and not _REDACTED.search(local)


def analyse(msg: Parsed) -> Complaint:
    ses = ses_notification(msg)
    if ses is not None and ses.get("notificationType") == "Complaint":
        return _ses(ses)
    ctype = msg.parts[0].headers.get("content-type", "") if msg.parts else ""
    fields = _report_fields(msg)
    evidence: list[str] = []
    if fields is not None:
        evidence.append("part: message/feedback-report")
    elif re.search(r"report-type\s*=\s*\"?feedback-report", ctype or "", re.I):
        evidence.append("content-type: report-type=feedback-report")
        fields = Headers()
    else:
        # Pre-RFC 5965 loops (early Yahoo/Hotmail style): a fixed sentence plus the
        # original attached.
        texts = report_texts(msg)
        has_original = any(p.is_message and p.in_original for p in msg.parts)
        if has_original and any(_ABUSE_TEXT.search(t[:4_000]) for t in texts):
            evidence.append("text: abuse-report wording with the original attached")
            fields = Headers()
        else:
            return _forwarded_by_an_abuse_desk(msg)
    ftype = (fields.get("feedback-type") or "").strip().lower()
    if not ftype:
        ftype = "abuse"
        evidence.append("feedback-type missing: taken as abuse")
    else:
        evidence.append(f"feedback-type: {ftype}")
    rcpts: list[str] = []
    redacted = False
    for name in ("original-rcpt-to", "removal-recipient"):
        for v in fields.all(name):
            for a in addresses_in(v):
                if _usable(a):
                    rcpts.append(a)
                    evidence.append(f"{name}: {a}")
                else:
                    redacted = True
    original_mid: str | None = None
    originals = msg.original_headers()
    if originals:
        original_mid = originals[0].get("message-id")
    if not rcpts:
        for oh in originals[:1]:
            tos = [a for v in oh.all("to") for a in addresses_in(v)]
            usable = [a for a in tos if _usable(a)]
            if len(usable) == 1:
                rcpts.append(usable[0])
                evidence.append(f"enclosed original To: {usable[0]}")
            elif tos:
                redacted = True
    uniq = list({norm(a): a for a in reversed(rcpts)}.values())[::-1]
    if redacted:
        evidence.append("recipient redacted by the reporter")
    return Complaint(True, ftype, tuple(uniq), redacted, ftype in SUPPRESSING_TYPES,
                     tuple(evidence), original_mid)


def _ses(obj: dict[str, Any]) -> Complaint:
    c = obj.get("complaint") if isinstance(obj.get("complaint"), dict) else {}
    assert isinstance(c, dict)
    ftype = str(c.get("complaintFeedbackType") or "abuse").lower()
    rcpts: list[str] = []
    for r in c.get("complainedRecipients", [])[:1000] or []:
        if isinstance(r, dict) and isinstance(r.get("emailAddress"), str):
            a = first_address(r["emailAddress"])
            if a:
                rcpts.append(a)
    mail = obj.get("mail") if isinstance(obj.get("mail"), dict) else {}
    assert isinstance(mail, dict)
    mid = mail.get("messageId") if isinstance(mail.get("messageId"), str) else None
    return Complaint(True, ftype, tuple(rcpts), False, ftype in SUPPRESSING_TYPES,
                     ("ses-json: notificationType=Complaint", f"feedback-type: {ftype}"), mid)


# A hosting provider's or network's abuse desk forwarding, as plain text, a complaint it
# received about our mail ("Spam-Beschwerde", "abuse complaint", ticket numbers), with
# the headers of our message pasted below. Known by who sends it (abuse@, an abuse
# desk) or its subject, and by those headers: a header block carrying List-Unsubscribe,
# which every marketing message consentry relays has. The complainant is that block's To.
_DESK_LOCAL = re.compile(r"^(?:abuse|abuse[-_.]?(?:desk|team|dept|department|report|"
                         r"reports|complaints?)|spam[-_.]?(?:report|complaints?)|noc|"
                         r"anti-?spam(?:[-_.]?(?:notice|team|center|centre|report))?)$", re.I)
_COMPLAINT_SUBJECT = re.compile(
    r"\b(?:abuse|spam)[- ]?(?:complaint|report|notice|notification|beschwerde|meldung|"
    r"ticket)\b|\bspam-?beschwerde|\[abuse[-#: ]|\babuse\b.{0,40}\b(?:ticket|case|"
    r"complaint|report|beschwerde|meldung)\b|\bunsolicited (?:bulk |commercial )?e-?mail|"
    r"\bplainte (?:pour |de )?(?:spam|abus)|\bsignalement d'abus|\bqueja (?:por|de) spam|"
    r"\bdenuncia (?:de )?spam|\bsegnalazione (?:di )?(?:spam|abuso)|\bspamklacht|"
    r"\bklacht over spam|\bzg[łl]oszenie (?:spamu|nadu[żz]ycia)|\bskarga na spam|"
    # "Beschwerde über unerwünschte Werbung", "complaint about unsolicited email"
    r"\bbeschwerde (?:[üu]ber|ueber|wegen|zu)\b.{0,20}\b(?:unerw(?:[üu]|ue)nscht|unverlangt|"
    r"unaufgefordert)"
    r"\w*|\bcomplaint (?:about|regarding|re:?|concerning)\b.{0,20}\b(?:unsolicited|unwanted|"
    r"unrequested)\b|"
    # "垃圾邮件举报通知", "迷惑メール報告", "Жалоба на спам"
    r"垃圾邮件(?:举报|投诉)|垃圾郵件(?:舉報|投訴)|迷惑メール(?:の)?(?:報告|申告)|스팸\s?신고|"
    r"жалоба на (?:спам|рассылку)", re.I)
# The recipient's report told in the desk's own words: "已被收件人举报为垃圾邮件", "has been
# reported as spam by the recipient", "als Spam gemeldet".
_REPORTED = re.compile(
    r"举报为垃圾邮件|舉報為垃圾郵件|投诉为垃圾邮件|迷惑メールとして(?:報告|申告)|스팸(?:으로)?\s?신고|"
    r"\b(?:reported|marked|flagged) (?:it |this (?:message |e-?mail )?)?as (?:spam|junk)\b|"
    r"\bals spam (?:gemeldet|markiert)\b|\bsignal[ée] comme (?:spam|ind[ée]sirable)\b|"
    r"\b(?:отметил|пометил|пожаловал)\w*", re.I)
# Our message's headers pasted as the desk's text shows them, indented, in its language:
# "  Von: news@…", "  An: kunde@…", "  Betreff: …", "  Message-ID: <…>".
_PASTED_FIELD = re.compile(
    r"^[ \t>]*(from|von|de|da|van|od|to|an|à|a|para|aan|do|subject|betreff|objet|oggetto|"
    r"asunto|onderwerp|temat|message-id|date|datum|date d'envoi|data|fecha)[ \t]*:[ \t]*(\S.*)$",
    re.I)
_TO_NAMES = frozenset({"to", "an", "à", "a", "para", "aan", "do"})
_FROM_NAMES = frozenset({"from", "von", "de", "da", "van", "od"})
_ID_LINE = re.compile(r"(?im)^.*\b(?:message|msg)[-_ ]?id\b.*$")
_SERVICE_LOCAL = re.compile(r"^(?:abuse|anti-?spam\w*|postmaster|noc|support|help\w*|"
                            r"no-?reply|feedback\w*|fbl\w*|spam\w*|info|service)$", re.I)
_HEADER_LINE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9-]{0,60}:[ \t]|[ \t]+\S)")


def _pasted_header_blocks(text: str) -> list[Headers]:
    lines = text.replace("\r\n", "\n").split("\n")[:5_000]
    out: list[Headers] = []
    for i, line in enumerate(lines):
        if not line.lower().startswith("list-unsubscribe:"):
            continue
        start = i
        while start > 0 and _HEADER_LINE.match(lines[start - 1]) and i - start < 200:
            start -= 1
        end = i + 1
        while end < len(lines) and _HEADER_LINE.match(lines[end]) and end - i < 200:
            end += 1
        out.append(parse_header_block("\n".join(lines[start:end])))
        if len(out) >= 3:
            break
    return out


def _pasted_fields(text: str) -> tuple[list[str], str | None] | None:
    """The To addresses and Message-ID of a block of our message's headers pasted as
    text without List-Unsubscribe (a desk that copies a few fields, in its language):
    a From, a To and a Message-ID or subject on consecutive lines, the first such block."""
    lines = text.replace("\r\n", "\n").split("\n")[:5_000]
    i = 0
    while i < len(lines):
        block: list[tuple[str, str]] = []
        while i < len(lines) and (m := _PASTED_FIELD.match(lines[i])) and len(block) < 30:
            block.append((m.group(1).lower(), m.group(2)))
            i += 1
        names = {n for n, _ in block}
        if names & _TO_NAMES and names & _FROM_NAMES and len(names) >= 3:
            tos = [a for n, v in block if n in _TO_NAMES for a in addresses_in(v)]
            mid = next((v.strip() for n, v in block if n == "message-id"), None)
            return tos, mid
        i += 1
    return None


def _desk_complaint(address: str, how: str, where: str, message_id: str | None) -> Complaint:
    return Complaint(True, "abuse", (address,), False, True,
                     (f"text: {how}", "feedback-type missing: taken as abuse",
                      f"{where}: {address}"), message_id)


def _named_in_prose(text: str, frm: list[str]) -> list[str]:
    """The addresses a desk's own sentence names, without the desk's own address, its
    domain's service addresses and Message-IDs."""
    own = {norm(a) for a in frm}
    desk_domains = {a.rpartition("@")[2].lower() for a in frm}
    named: list[str] = []
    for a in addresses_in(_ID_LINE.sub("", text)):
        local, _, domain = a.rpartition("@")
        if norm(a) in own or not _usable(a) or (
                domain.lower() in desk_domains and _SERVICE_LOCAL.match(local)):
            continue
        if norm(a) not in {norm(x) for x in named}:
            named.append(a)
    return named


def _forwarded_by_an_abuse_desk(msg: Parsed) -> Complaint:
    frm = [a for v in msg.headers.all("from") for a in addresses_in(v)]
    ctype = (msg.headers.get("content-type") or "").lower()
    if ctype.startswith("multipart/report") or any(
            re.match(r"^(?:mailer[-_]?daemon|postmaster)$", a.rpartition("@")[0], re.I)
            for a in frm):
        return Complaint(False)  # a delivery report quoting our headers is no complaint
    desk = any(_DESK_LOCAL.match(a.rpartition("@")[0]) for a in frm[:3])
    subject = bool(_COMPLAINT_SUBJECT.search(msg.subject))
    if not (desk or subject):
        return Complaint(False)
    who = "an abuse desk's address" if desk else "a complaint subject"
    texts = [t[:200_000] for t in report_texts(msg, cut=False)[:3]]
    for text in texts:
        for block in _pasted_header_blocks(text):
            usable = [a for v in block.all("to") for a in addresses_in(v) if _usable(a)]
            if len(usable) == 1:
                return _desk_complaint(usable[0], f"a complaint forwarded as text ({who}) with "
                                       "our message's headers pasted (List-Unsubscribe)",
                                       "pasted original To", block.get("message-id"))
    for oh in msg.original_headers()[:1]:
        # the same desk's words in a language _ABUSE_TEXT does not know, our message
        # attached whole: a complaint about its one To
        usable = [a for v in oh.all("to") for a in addresses_in(v) if _usable(a)]
        if len(usable) == 1 and oh.get("list-unsubscribe"):
            return _desk_complaint(usable[0], f"a complaint ({who}) with our message attached",
                                   "enclosed original To", oh.get("message-id"))
    if not (desk and subject):
        return Complaint(False)
    # Weaker evidence, so both the desk's address and a complaint subject: a few of our
    # message's fields copied into its text (no List-Unsubscribe among them), or no fields
    # at all and the complainant named in the desk's own sentence ("您从 … 发往
    # zhao.lin@qq.example 的邮件已被收件人举报为垃圾邮件").
    for text in texts:
        found = _pasted_fields(text)
        usable = [a for a in found[0] if _usable(a)] if found else []
        if found and len(usable) == 1:
            return _desk_complaint(usable[0], "a complaint forwarded as text by an abuse "
                                   "desk's address, under a complaint subject, with our "
                                   "message's fields pasted", "pasted original To", found[1])
    for text in texts[:2]:
        if _REPORTED.search(text[:6_000]):
            named = _named_in_prose(text[:6_000], frm)
            if len(named) == 1:
                return _desk_complaint(named[0], "a provider's anti-spam desk says its user "
                                       "reported the message (an abuse desk's address, a "
                                       "complaint subject)", "named in the text", None)
    return Complaint(False)
