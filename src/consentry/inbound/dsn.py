"""Delivery reports: RFC 3464 DSNs and the plain-text formats of MTAs that write none.

Where the failed recipients come from, strongest first:
  1. ``message/delivery-status`` per-recipient fields (also when an MTA pastes them into
     a text/plain part), Original-Recipient before Final-Recipient because it is the
     address we sent to (before the receiver's alias expansion);
  2. Amazon SES JSON notifications;
  3. the report text: an address that stands in a recipient position (line start,
     ``RCPT TO:<…>``, "delivering your mail to …"), with the text up to the next
     recipient as its diagnostic;
  4. ``X-Failed-Recipients`` (Exim);
  5. flufl.bounce's detectors, which know many old dialects;
  6. the returned original's single ``To`` address.
Reason and hard/soft are always decided by `reasons.judge`, never by flufl.bounce.
Success and delay reports are returned with their action, so callers can see that a
``delivered`` or ``delayed`` recipient must never be suppressed.
"""

from __future__ import annotations

import contextlib
import email
import email.utils
import functools
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from flufl.bounce import all_failures
from publicsuffixlist import PublicSuffixList

from . import reasons
from .parse import Headers, Parsed, parse_header_block, parse_message
from .reasons import BounceClass, Reason
from .textutil import (
    ADDR_RE,
    addresses_in,
    first_address,
    header_addresses,
    inline_original,
    message_ids,
    norm,
    report_texts,
    unquote,
)

# flufl.bounce logs every detector that raises on a malformed message, with a traceback;
# having no handler of its own, that went through logging's last resort to stderr: raw
# multi-line text between the daemon's JSON log lines. A failing detector found nothing.
_flufl_log = logging.getLogger("flufl.bounce")
_flufl_log.addHandler(logging.NullHandler())
_flufl_log.propagate = False

__all__ = ["BouncedRecipient", "DsnReport", "analyse"]

FAILED_ACTIONS = frozenset({"failed", "delayed"})
SUCCESS_ACTIONS = frozenset({"delivered", "relayed", "expanded", "deliverable"})


@dataclass(frozen=True, slots=True)
class BouncedRecipient:
    address: str
    status: str
    reply_code: str
    action: str  # failed | delayed | delivered | relayed | expanded
    klass: BounceClass
    reason: Reason
    diagnostic: str
    source: str  # delivery-status | ses-json | text | x-failed-recipients | flufl | original-to
    why: str

    @property
    def failed(self) -> bool:
        return self.action in FAILED_ACTIONS

    def as_dict(self) -> dict[str, Any]:
        return {"address": self.address, "status": self.status, "class": self.klass,
                "reason": self.reason, "action": self.action, "reply_code": self.reply_code,
                "diagnostic": self.diagnostic[:300], "source": self.source,
                "rule": self.why}


@dataclass(frozen=True, slots=True)
class DsnReport:
    is_report: bool
    recipients: tuple[BouncedRecipient, ...] = ()
    evidence: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[BouncedRecipient, ...]:
        return tuple(r for r in self.recipients if r.failed)

    @property
    def successes(self) -> tuple[BouncedRecipient, ...]:
        return tuple(r for r in self.recipients if r.action in SUCCESS_ACTIONS)


# -- bounce recognition ------------------------------------------------------------------

_DAEMON_LOCAL = re.compile(r"^(?:mailer[-_]?daemon|postmaster|mail[-_]?delivery[-_\w]*|"
                           r"bounces?|mdaemon|mail[-_]?system|daemon|"
                           r"post_master|mta|smtp|no-?reply-dsn)$", re.I)
_DAEMON_NAME = re.compile(r"mail (?:delivery|system|administrator)|mailer[- ]daemon|"
                          r"postmaster|system administrator|delivery (?:subsystem|system)",
                          re.I)
_SUBJECT = re.compile(
    r"undeliver|undelivered|not delivered|delivery (?:status|failure|failed|report|"
    r"notification|problem|error|has failed|delayed)|failure notice|returned mail|"
    r"mail delivery|non[- ]?delivery|could not (?:be )?deliver|delivery failure|"
    r"mail (?:system )?error|returned to sender|unzustellbar|nicht zustellbar|"
    r"non remis|non recapitabile|onbestelbaar|no entregado|niedostarczon|"
    r"warning: (?:could not send|message .* delayed)|delayed mail|"
    r"message (?:not delivered|delayed|status)|permanent error|"
    r"rejected|bounce|failed delivery|nondeliverable|unable to deliver|returning message|"
    r"error sending|メールエラー|エラー通知|不達|配信エラー|送信エラー|配送エラー|配送不能|"
    r"宛先不明|"
    # zh, ko, ru, pt, cs, tr (reports of providers in those languages)
    r"退信|退件|退回|未送达|投递失败|投遞失敗|無法投遞|反送|반송|전송 실패|배달 실패|"
    r"не доставлено|недоставленное|n[ãa]o (?:foi )?entregue|nedoru[čc]iteln|iletilemedi|"
    # it fr es sv da no fi
    r"non recapitat|mancato recapito|mancata consegna|non consegnat|[ée]chec de (?:la )?remise|"
    r"non distribu[ée]|no se (?:pudo|puede) entregar|error (?:en la|de) entrega|olevererbar|"
    r"kunde inte levereras|ej levererat|kan ikke leveres|ikke (?:leveret|levert)|"
    r"toimitus ep[äa]onnistui|ei voitu toimittaa|"
    # pl hu ro el hr sl sk fr
    r"nie zosta[łl]a (?:dostarczona|dor[ęe]czona)|k[ée]zbes[íi]t[ée]si hiba|"
    r"nem k[ée]zbes[íi]thet[őo]|nelivrat|αδυναμ[ίι]α παρ[άα]δοσης|neisporu[čc]en|"
    r"nedostavljen|nedoru[čc]ite[ľl]n|non d[ée]livr[ée]",
    re.I,
)
_BODY = re.compile(
    r"could not be delivered|couldn't be delivered|permanent(?:ly)? (?:error|failure|fatal)|"
    r"failed permanently|delivery (?:has )?failed|undeliverable|was not delivered|"
    r"(?:address|recipient)\(?e?s?\)? failed|delivery to the following recipient|"
    r"i'?m sorry to (?:have to )?inform you|this is the mail system at host|"
    r"not (?:be )?delivered to|error delivering your mail|this is the qmail-send program|"
    r"the original message was received|did not reach the following recipient|"
    r"message could not be delivered|delivery (?:status )?notification|"
    r"following (?:recipients?|addresses?) (?:had|has|failed|could not|did not|was)|"
    r"unable to deliver|has not (?:yet )?been delivered|delivery attempts? (?:will|have)|"
    r"mail delivery (?:failed|problem)|returned mail|transcript of session|"
    r"rejected by (?:a remote|the recipient|the server)|the following message to|"
    r"delivery of your message|message you sent|your message (?:to|was|could|did)|"
    r"nicht zugestellt|n'a pas pu .{0,20}remis|no se ha podido entregar|"
    r"trouble delivering|rejected recipient|error:? .{0,20}(?:invalid|unknown) (?:user|"
    r"recipient|address)|requested action not taken|no valid recipients|"
    r"未能(?:成功)?(?:送达|投递)|无法(?:发送|送达|投递)|無法(?:傳送|投遞|送達)|退信原因|被退回|"
    r"投递失败|送達できませんでした|配信できませんでした|配送できませんでした|"
    r"전달(?:되지 않았|할 수 없)|"
    r"не (?:может быть |было |удалось )?доставлен|n[ãa]o (?:p[ôo]de|foi poss[íi]vel) "
    r"(?:ser )?entregue|nemohla b[ýy]t doru[čc]ena|iletilemedi|kon niet (?:worden )?"
    r"(?:afgeleverd|bezorgd)|non (?:è stato possibile|può essere|si è potuto) (?:consegna|"
    r"recapita)|impossibile (?:consegnare|recapitare)|kunde inte levereras|kunne ikke leveres|"
    r"ei voitu toimittaa|nie (?:mo[żz]na|uda[łl]o si[ęe]) dor[ęe]czy[ćc]|"
    r"nepoda[řr]ilo se doru[čc]it|no (?:se )?(?:ha )?(?:podido|pudo) (?:ser )?entregar|"
    # fr pl hu ro el hr sl sk et lv lt: "n'a pas pu être délivré", "nie mogła zostać
    # dostarczona", "nem sikerült kézbesíteni", "nu a putut fi livrat"
    r"n'a pas pu (?:[êe]tre )?(?:d[ée]livr|distribu|achemin|transmis)|"
    r"nie\s+(?:mog[łl]a|mo[żz]e|zosta[łl]a)(?:\s+zosta[ćc])?\s+(?:dostarczona|dor[ęe]czona)|"
    r"nem (?:siker[üu]lt|lehetett) k[ée]zbes[íi]teni|nu a (?:putut|fost posibil[ăa]) (?:fi )?"
    r"(?:livrat|livrarea|trimis)|δεν (?:ήταν|είναι) δυνατ[ήη] η παρ[άα]δοση|"
    r"nije (?:mogu[ćc]e isporu[čc]iti|(?:mogla|moglo) biti (?:isporu[čc]en|dostavljen))|"
    r"ni bilo mogo[čc]e dostaviti|nebolo mo[žz]n[ée] doru[čc]i[ťt]|"
    r"ei [õo]nnestunud (?:kohale )?toimetada|nevar[ēe]ja pieg[āa]d[āa]t|nepavyko pristatyti",
    re.I,
)
_DELAY_TEXT = re.compile(
    r"\bhas not (?:yet )?been delivered\b|\bhas been delayed\b|\bdelayed\b|"
    r"\bwill (?:continue to |keep )?(?:retry|try)|\bwill be retried\b|"
    r"\bwarning message only\b|\bstill (?:trying|being retried)\b|"
    r"\btemporary failure report\b|\bdo(?: not|n't) need to (?:re-?send|resend)\b|"
    r"\bno action is required\b|"
    r"\bpas encore (?:pu )?(?:[êe]tre )?(?:remis|d[ée]livr)|\bnouvelle tentative\b|"
    r"\bnoch nicht zugestellt\b|\bwird (?:weiterhin|erneut) versucht\b|"
    r"\btodav[íi]a no (?:ha sido|se ha) entregad|\bnon (?:è|e) (?:ancora )?stato consegnat\w+ "
    r"(?:finora|ancora)|\bnog niet (?:afgeleverd|bezorgd)\b|\bjeszcze nie (?:dostarczon|"
    r"dor[ęe]czon)",
    re.I,
)
_PERMANENT_TEXT = re.compile(
    r"\bpermanent(?:ly|e|er|en|es|em)?\b|\bfatal\b|\bgiving up\b|\bgave up\b|"
    r"\bdauerhaft(?:e[rn]?)?\b|\bendg[üu]ltig|\bd[ée]finiti(?:f|ve|vement)\b|"
    r"\bdefinitiv[oa]\b|\bpermanentemente\b|\bblijvend[e]?\b|\bdefinitief\b|"
    r"\bb[łl][ąa]d (?:trwa[łl]y|sta[łl]y)\b|\btrwa[łl]y b[łl][ąa]d\b", re.I)


def _sender_like(headers: Headers) -> bool:
    frm = headers.get("from") or ""
    addr = first_address(frm) or ""
    local = addr.rpartition("@")[0]
    return bool(_DAEMON_LOCAL.match(local) or _DAEMON_NAME.search(frm) or
                (not addr and "<>" in frm))


def _recognise(msg: Parsed, texts: list[str]) -> list[str]:
    """Evidence that this is a delivery report; empty list if it is not one."""
    ev: list[str] = []
    ctype = msg.parts[0].headers.get("content-type", "") if msg.parts else ""
    strong = False
    if re.search(r"report-type\s*=\s*\"?(?:delivery-status|global-delivery-status)", ctype or "",
                 re.I):
        ev.append("content-type: multipart/report; report-type=delivery-status")
        strong = True
    if any(p.ctype in ("message/delivery-status", "message/global-delivery-status")
           for p in msg.report_parts()):
        ev.append("part: message/delivery-status")
        strong = True
    if msg.get("x-failed-recipients"):
        ev.append("header: X-Failed-Recipients")
        strong = True
    sender = _sender_like(msg.headers)
    subj = bool(_SUBJECT.search(msg.subject))
    body = any(_BODY.search(t[:20_000]) for t in texts)
    if sender:
        ev.append(f"from: {(msg.get('from') or '')[:80]}")
    if subj:
        ev.append(f"subject: {msg.subject[:80]}")
    if body:
        ev.append("body: delivery-failure wording")
    returned = any(p.is_message and p.in_original for p in msg.parts)
    if returned and body:
        ev.append("returned original attached")
    # A daemon's report in a language whose wording is not listed still quotes the
    # remote server: "550 5.1.1 <x@y>: ... utente inesistente".
    coded = (sender or subj) and not body and any(_CODED.search(t[:20_000]) for t in texts)
    if coded:
        ev.append("an SMTP reply with an enhanced status code")
    if strong or (sender and (subj or body)) or (subj and body) or (returned and body) or coded:
        return ev
    return []


_CODED = re.compile(r"(?m)^[ \t>]*(?:.{0,80}[:\s])?[45]\d\d[ -]#?[45]\.\d{1,3}\.\d{1,3}\b")


# -- machine-readable delivery-status fields ---------------------------------------------

def _blocks(text: str) -> list[Headers]:
    out: list[Headers] = []
    for chunk in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")):
        if chunk.strip():
            h = parse_header_block(chunk)
            if h:
                out.append(h)
    return out


_FIELDS_IN_TEXT = re.compile(r"^[ \t>]*(?:final|original)-recipient[ \t]*:", re.I | re.M)


def _status_blocks(msg: Parsed) -> tuple[list[Headers], list[str]]:
    """The per-recipient field blocks of the report, and its Reporting-MTA values (from
    the per-message block, read in the same pass)."""
    blocks: list[Headers] = []
    for p in msg.report_parts():
        if p.ctype in ("message/delivery-status", "message/global-delivery-status"):
            blocks.extend(_blocks(p.text))
    if not any(b.get("final-recipient") or b.get("original-recipient") for b in blocks):
        for p in msg.report_parts():
            m = _FIELDS_IN_TEXT.search(p.text) if p.ctype.startswith("text/") else None
            if m is not None:
                # Fields pasted into a text part (or a DSN whose MIME structure broke,
                # or one a person forwarded with ">" quoting).
                text = unquote(p.text)
                m2 = _FIELDS_IN_TEXT.search(text)
                assert m2 is not None
                head = text.rfind("\n\n", 0, m2.start())
                blocks.extend(_blocks(text[head + 1 if head >= 0 else 0:]))
    out: list[Headers] = []
    for b in blocks:
        out.extend(_split_recipients(b))
    mtas = [v for b in blocks for v in b.all("reporting-mta")]
    return [b for b in out if b.get("final-recipient") or b.get("original-recipient")], mtas


def _arrival(msg: Parsed) -> datetime | None:
    """The per-message Arrival-Date of the report's delivery-status part (RFC 3464 §2.2.5:
    when the reporting MTA received the message)."""
    for p in msg.report_parts():
        if p.ctype in ("message/delivery-status", "message/global-delivery-status"):
            for b in _blocks(p.text):
                when = _date(b.get("arrival-date"))
                if when is not None:
                    return when
    return None


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip()[:200])
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else None


def _retried_hours(arrival: datetime | None, last: datetime | None) -> float:
    """Hours between the message's arrival at the reporting MTA and its last attempt
    (0 when either is unknown, or the dates make no sense)."""
    if arrival is None or last is None:
        return 0.0
    hours = (last - arrival).total_seconds() / 3600.0
    return hours if 0.0 < hours < 24.0 * 366 else 0.0


def _split_recipients(block: Headers) -> list[Headers]:
    """Some MTAs omit the blank line between per-recipient blocks: a second
    Final-Recipient (or Original-Recipient) in one block starts the next recipient."""
    groups: list[list[tuple[str, str]]] = [[]]
    for k, v in block.items:
        names = {n for n, _ in groups[-1]}
        if k in ("final-recipient", "original-recipient") and k in names:
            groups.append([])
        groups[-1].append((k, v))
    return [Headers(tuple(g)) for g in groups if g]


def _clean_status(value: str | None) -> str:
    if not value:
        return ""
    m = re.match(r"\s*([245]\.\d{1,3}\.\d{1,3})", value)
    return m.group(1) if m else ""


def _diag_value(value: str | None) -> str:
    if not value:
        return ""
    v = value
    head, sep, rest = v.partition(";")
    if sep and re.fullmatch(r"\s*[\w.-]{1,40}\s*", head):
        v = rest
    return v.strip()


# -- report text -------------------------------------------------------------------------

_HEADER_ECHO = re.compile(
    r"^[ \t>]*(?:to|cc|bcc|from|sender|reply-to|return-path|subject|date|sent|"
    r"message-id|references|in-reply-to|received|envelope-to|delivered-to|"
    r"x-[\w-]{1,40}|organization|mime-version|content-[\w-]{1,30}|user-agent|"
    r"list-[\w-]{1,30}|de|von|an|betreff|gesendet|objet|envoy[ée])[ \t]*:", re.I)
_SENDER_CONTEXT = re.compile(
    r"(?:mail from|envelope[- ]from|sender|from|return-path|reverse-path|postmaster of|"
    r"send mail to|contact|please (?:send|write|mail)|reply to|smtp\.mailfrom|write to|"
    r"(?:contact|e-?mail|mail|reach|write to) us(?: at| on| via| under)?|"
    r"header\.from|mailfrom|"
    # the reporter's help desk, in the languages of the reports
    r"(?:our|unseren?|unsere|notre|nuestro|il nostro|onze|nasz) (?:it-?)?(?:helpdesk|help desk|"
    r"support|service-?desk|hotline|it-service)|wenden sie sich (?:bitte )?an(?: \w+){0,3}|"
    r"contactez(?:-nous)?|adressez-vous (?:[àa]|au)(?: \w+){0,3}|p[óo]ngase en contacto con|"
    r"contacte con|contatta(?:re|te)?|rivolge(?:rsi|tevi) a|neem contact op met|"
    r"skontaktuj(?:cie)? si[ęe] z|entre em contato com)[\s:=]*[<\"(]*\s*$", re.I)
# The new address a moved mailbox names ("551 5.1.6 Recipient address has changed to
# <new@…>", "neue Adresse: …"): never the one that failed.
_NEW_ADDRESS_CONTEXT = re.compile(
    r"(?:(?:address|adresse|mailbox|user|recipient)\s+(?:has\s+)?(?:changed|moved)\s+to|"
    r"(?:has\s+)?moved\s+to|new\s+(?:e-?mail\s+)?address(?:\s+is)?|"
    r"neue\s+(?:e-?mail-?)?adresse(?:\s+(?:lautet|ist))?|nouvelle\s+adresse(?:\s+est)?|"
    r"nuevo\s+correo|nueva\s+direcci[oó]n|nuovo\s+indirizzo|nieuwe\s+adres|"
    r"now\s+(?:reachable|available)\s+(?:at|under)|erreichbar\s+unter)"
    r"[\s:=]*[<\"(\[]*\s*$", re.I)
_RECIPIENT_CONTEXT = re.compile(
    r"(?:rcpt to|recipients?|addresse?e?s?|failed|delivering (?:your )?(?:mail|message) to|"
    r"deliver(?:ed|y|ing)? to|not (?:be )?delivered to|could not be delivered to|for|to|"
    r"user|mailbox|undeliverable to|following (?:recipient|address)[^:]{0,60}|"
    r"reached|destinat(?:ion|aire|ario)|empf[äa]nger|original-recipient|"
    r"final-recipient|rfc822|forward(?:ed)? to|expanded from)"
    r"[\s:;,]*[<\"(\[]*(?:smtp:)?\s*$", re.I)  # Exchange's "[SMTP:a@b]"
_LEADER = re.compile(r"^[\s>*\-•·\d.)\]\[(<\"']*$")
_IDLIKE = re.compile(r"^[0-9a-f.\-_$=]{16,}$|^(?=[^@]*\d{6})[^@]{24,}$", re.I)


@dataclass(slots=True)
class _Cand:
    address: str
    line: int
    strong: bool


def _text_candidates(text: str, exclude: set[str]) -> list[_Cand]:
    lines = text.replace("\r\n", "\n").split("\n")[:2_000]
    seen: dict[str, _Cand] = {}
    for i, line in enumerate(lines):
        if len(line) > 2_000:
            line = line[:2_000]
        echo = bool(_HEADER_ECHO.match(line))
        for m in ADDR_RE.finditer(line):
            addr = m.group(1)
            key = norm(addr)
            if key in exclude or _IDLIKE.match(key.split("@", 1)[0]):
                continue
            before = line[: m.start()]
            if before[-1:] in ("/", "=", "?", "&") or before.lower().endswith("mailto:"):
                continue
            # an address alone on its line takes its context from the line before
            # ("wenden Sie sich an unseren Helpdesk:\n    it-service@…")
            ctx = before if before.strip() or i == 0 else f"{lines[i - 1][-60:]} {before}"
            if _SENDER_CONTEXT.search(ctx[-60:]) or _NEW_ADDRESS_CONTEXT.search(ctx[-60:]):
                exclude.add(key)
                seen.pop(key, None)
                continue
            if echo and not re.match(r"^[ \t]*(?:final|original)-recipient", line, re.I):
                continue
            strong = bool(_LEADER.match(before) or _RECIPIENT_CONTEXT.search(before[-80:]))
            prev = seen.get(key)
            if prev is None:
                seen[key] = _Cand(addr, i, strong)
            elif strong and not prev.strong:
                prev.strong = True
    cands = sorted(seen.values(), key=lambda c: c.line)
    if any(c.strong for c in cands):
        cands = [c for c in cands if c.strong]
    return cands


def _snippets(text: str, cands: list[_Cand]) -> dict[str, str]:
    """Per candidate: its line and the following ones, up to a line naming another one."""
    lines = text.replace("\r\n", "\n").split("\n")
    lowered = [unicodedata.normalize("NFC", ln).lower() for ln in lines]  # as norm() does
    keys = [norm(c.address) for c in cands]
    out: dict[str, str] = {}
    for c, key in zip(cands, keys, strict=True):
        i = c.line
        if i >= len(lines) or key not in lowered[i]:
            # found in another text of the report (its line number is that text's):
            # its line here (an IndexError, or another line's words, before)
            i = next((j for j, ln in enumerate(lowered) if key in ln), -1)
            if i < 0:
                continue
        others = [k for k in keys if k != key]
        block = [*_dialogue_before(lines, i), lines[i]]
        for nxt in lines[i + 1:i + 25]:
            low = nxt.lower()
            if any(o in low for o in others):
                break
            block.append(nxt)
        out[key] = "\n".join(block)[:3_000]
    return out


def _dialogue_before(lines: list[str], i: int) -> list[str]:
    """The SMTP dialogue lines (">>> MAIL From:…", "<<< 501 …") right above line `i`:
    sendmail prints the command and reply a recipient's error answers before it."""
    out: list[str] = []
    j = i - 1
    while j >= 0 and i - j <= 6 and re.match(r"^\s*(?:>>>|<<<)", lines[j]):
        out.insert(0, lines[j])
        j -= 1
    return out


def _snippet_for(texts: list[str], address: str) -> str:
    """The lines after `address` in the report text, up to the next address."""
    key = norm(address)
    for t in texts:
        lines = t.replace("\r\n", "\n").split("\n")
        for i, line in enumerate(lines[:2_000]):
            if key in line.lower():
                out = [*_dialogue_before(lines, i), line]
                for nxt in lines[i + 1:i + 12]:
                    if ADDR_RE.search(nxt) and key not in nxt.lower():
                        break
                    out.append(nxt)
                return "\n".join(out)[:3_000]
    return ""


# -- exclusions: addresses that are never the failed recipient ---------------------------

def _exclusions(msg: Parsed) -> set[str]:
    ex: set[str] = set()
    h = msg.headers
    # Not Delivered-To/X-Original-To: some MTAs (DragonFly) write the failed recipient
    # there; the address the bounce came to is in To or excluded by the caller.
    for name in ("from", "sender", "reply-to", "return-path", "to", "cc", "errors-to",
                 "resent-from"):
        for v in h.all(name):
            ex.update(norm(a) for a in header_addresses(v))
    for oh in _all_originals(msg):
        for name in ("from", "sender", "reply-to", "return-path", "errors-to"):
            for v in oh.all(name):
                ex.update(norm(a) for a in header_addresses(v))
        ex.update(message_ids(oh))
    ex.update(message_ids(h))
    for p in msg.report_parts():
        if p.ctype in ("message/delivery-status", "message/global-delivery-status"):
            for b in _blocks(p.text):
                for name in ("x-postfix-sender", "x-original-sender", "original-envelope-id"):
                    ex.update(norm(a) for a in header_addresses(b.get(name)))
    return ex


def _own_header_addresses(msg: Parsed) -> set[str]:
    ex: set[str] = set()
    for name in ("from", "sender", "reply-to", "return-path", "to", "cc", "errors-to"):
        for v in msg.headers.all(name):
            ex.update(norm(a) for a in header_addresses(v))
    ex.update(message_ids(msg.headers))
    return ex


def _all_originals(msg: Parsed) -> list[Headers]:
    """Header sections of returned originals: MIME-enclosed ones and ones pasted into
    the report text after a marker line."""
    out = list(msg.original_headers())
    for t in report_texts(msg, cut=False):
        h = inline_original(unquote(t))
        if h:
            out.append(h)
    return out


_SRS = re.compile(r"^srs[01][=+-]", re.I)


def _never_a_recipient(addr: str) -> bool:
    """A mail daemon, or an SRS-rewritten return path (SRS0=hash=tt=domain=local@forwarder:
    our own address as a forwarder re-sent it)."""
    return _daemon(addr) or bool(_SRS.match(addr))


def _daemon(addr: str) -> bool:
    local = addr.rpartition("@")[0]
    return bool(re.match(r"^(?:mailer[-_]?daemon|mail[-_]?daemon)$", local, re.I))


# -- Amazon SES JSON -----------------------------------------------------------------------

def ses_notification(msg: Parsed) -> dict[str, Any] | None:
    """The SES notification object (bounce, complaint or delivery), if this is one."""
    for p in msg.report_parts():
        if not p.ctype.startswith("text/") or "notificationType" not in p.text:
            continue
        obj = _json_prefix(p.text)
        if isinstance(obj, dict) and "Message" in obj and isinstance(obj["Message"], str):
            obj = _json_prefix(obj["Message"])
        if isinstance(obj, dict) and isinstance(obj.get("notificationType"), str):
            return obj
    return None


def _json_prefix(text: str) -> Any:
    start = text.find("{")
    if start < 0:
        return None
    try:
        obj, _ = json.JSONDecoder().raw_decode(text[start: start + 1_000_000])
    except (ValueError, RecursionError):
        # SNS wraps long lines: retry with the line breaks of the mail body removed.
        try:
            joined = re.sub(r"\r?\n[ \t]?", "", text[start: start + 1_000_000])
            obj, _ = json.JSONDecoder().raw_decode(joined)
        except (ValueError, RecursionError):
            return None
    return obj


def _ses_recipients(obj: dict[str, Any]) -> list[BouncedRecipient]:
    out: list[BouncedRecipient] = []
    kind = obj.get("notificationType")
    if kind == "Bounce" and isinstance(obj.get("bounce"), dict):
        b = obj["bounce"]
        transient = str(b.get("bounceType", "")).lower() != "permanent"
        for r in b.get("bouncedRecipients", [])[:1000] or []:
            if not isinstance(r, dict) or not isinstance(r.get("emailAddress"), str):
                continue
            diag = str(r.get("diagnosticCode", ""))
            status = _clean_status(str(r.get("status", ""))) or reasons.find_status(diag)
            reply = reasons.find_reply_code(diag)
            sub = str(b.get("bounceSubType", ""))
            j = reasons.judge(status, reply, f"{diag} {_ses_subtype(sub)}",
                              delayed=False, permanent_hint=not transient)
            out.append(BouncedRecipient(first_address(r["emailAddress"]) or r["emailAddress"],
                                        status, reply, "failed", j.klass, j.reason, diag,
                                        "ses-json", j.why))
    elif kind == "Delivery" and isinstance(obj.get("delivery"), dict):
        d = obj["delivery"]
        for a in d.get("recipients", [])[:1000] or []:
            if isinstance(a, str):
                resp = str(d.get("smtpResponse", ""))
                out.append(BouncedRecipient(a, reasons.find_status(resp) or "2.0.0",
                                            reasons.find_reply_code(resp), "delivered", "soft",
                                            "other", resp, "ses-json", "ses:delivery"))
    return out


def _ses_subtype(sub: str) -> str:
    # SES bounce subtypes (documented values) in words our reason rules understand.
    return {"NoEmail": "address does not exist", "MailboxFull": "mailbox full",
            "MessageTooLarge": "message too large", "ContentRejected": "content rejected",
            "AttachmentRejected": "content rejected",
            "Suppressed": "", "OnAccountSuppressionList": ""}.get(sub, "")


# -- ESP delivery events as JSON ----------------------------------------------------------
# SendGrid, Mailgun, Postmark, SparkPost and SES event publishing describe each delivery
# as a JSON event; a hook relay or the ESP itself may mail them to the return path (the
# JSON in the text or as an application/json attachment). Each event names its
# recipient, what happened and the remote server's reply; the reply decides hard or soft
# as in any report, the ESP's own "hard"/"permanent" only says the failure was final.

_ESP_RCPT_KEYS = ("email", "recipient", "rcpt_to", "Email", "Recipient", "emailAddress")
_ESP_DIAG_KEYS = ("reason", "response", "raw_reason", "Details", "Description",
                  "diagnosticCode", "smtpResponse", "error", "message")
# event name (lower case) -> action; "" = not a delivery event (opens, clicks, drops)
_ESP_EVENTS = {
    "bounce": "failed", "bounced": "failed", "failed": "failed", "hardbounce": "failed",
    "softbounce": "failed", "blocked": "failed", "dnserror": "failed", "rejected": "failed",
    "out_of_band": "failed", "policy_rejection": "failed", "generation_failure": "",
    "deferred": "delayed", "delay": "delayed", "deliverydelay": "delayed",
    "transient": "delayed", "temporary": "delayed",
    "delivered": "delivered", "delivery": "delivered",
}


def _esp_event_objects(value: Any, depth: int = 0) -> list[dict[str, Any]]:
    """The event objects in a decoded JSON value: a list of them, one, or one wrapped
    ({"event-data": …} of Mailgun, {"msys": {"message_event": …}} of SparkPost)."""
    if depth > 4:
        return []
    if isinstance(value, list):
        return [e for v in value[:1000] for e in _esp_event_objects(v, depth + 1)]
    if not isinstance(value, dict):
        return []
    for key in ("event-data", "msys", "events", "records", "Records"):
        if key in value and isinstance(value[key], (dict, list)):
            inner = value[key]
            if key == "msys" and isinstance(inner, dict):
                inner = list(inner.values())
            return _esp_event_objects(inner, depth + 1)
    if any(isinstance(value.get(k), str) for k in _ESP_RCPT_KEYS):
        return [value]
    return []


def _json_values(text: str) -> list[Any]:
    """JSON values in a text that may open with a line of prose ("event-data:")."""
    out: list[Any] = []
    pos = 0
    for _ in range(10):
        starts = [i for i in (text.find("{", pos), text.find("[", pos)) if i >= 0]
        if not starts:
            break
        start = min(starts)
        try:
            value, end = json.JSONDecoder().raw_decode(text[start: start + 1_000_000])
        except (ValueError, RecursionError):
            pos = start + 1
            continue
        out.append(value)
        pos = start + max(end, 1)
    return out


def _esp_event(e: dict[str, Any]) -> BouncedRecipient | None:
    rcpt = next((e[k] for k in _ESP_RCPT_KEYS if isinstance(e.get(k), str)), "")
    addr = first_address(rcpt)
    if not addr:
        return None
    names = [str(e.get(k, "")).lower().replace("-", "").replace(" ", "")
             for k in ("Type", "RecordType", "eventType", "notificationType", "event", "type")]
    action = next((_ESP_EVENTS[n] for n in names if n in _ESP_EVENTS), None)
    if action is None or action == "":
        return None
    severity = str(e.get("severity", "")).lower()
    if severity == "temporary" and action == "failed":
        action = "delayed"
    ds = e.get("delivery-status") if isinstance(e.get("delivery-status"), dict) else {}
    assert isinstance(ds, dict)
    diag = " ".join(str(v)[:500] for v in (*(e.get(k) for k in _ESP_DIAG_KEYS),
                                          ds.get("message"), ds.get("description"))
                    if isinstance(v, (str, int)) and str(v).strip())[:1_000]
    status = (_clean_status(str(e.get("status") or ds.get("enhanced-code") or ""))
              or reasons.find_status(diag))
    code = str(ds.get("code") or e.get("error_code") or "")
    reply = code if re.fullmatch(r"[2-5]\d\d", code) else reasons.find_reply_code(diag)
    if action == "delivered":
        return BouncedRecipient(addr, status or "2.0.0", reply, "delivered", "soft",
                                "other", diag, "esp-json", "esp:delivered")
    final = severity == "permanent" or "hard" in names[0] or names[-1] == "bounce"
    j = reasons.judge(status, reply, diag, delayed=action == "delayed",
                      permanent_hint=True if final else None)
    return BouncedRecipient(addr, status, reply, action, j.klass, j.reason, diag, "esp-json",
                            j.why)


def esp_events(msg: Parsed) -> list[BouncedRecipient]:
    """Delivery events of an ESP mailed as JSON (see above); empty if there are none."""
    out: list[BouncedRecipient] = []
    seen: set[str] = set()
    for p in msg.report_parts():
        if not (p.ctype.startswith("text/") or p.ctype == "application/json"):
            continue
        if '"' not in p.text[:200_000] or p.ctype == "text/html":
            continue
        for value in _json_values(p.text[:1_000_000]):
            for e in _esp_event_objects(value)[:1000]:
                rec = _esp_event(e)
                if rec is not None and norm(rec.address) not in seen:
                    seen.add(norm(rec.address))
                    out.append(rec)
        if out:
            break
    return out


# -- the analysis ------------------------------------------------------------------------

def analyse(msg: Parsed, force: bool = False, depth: int = 0) -> DsnReport:
    """Find the recipients a delivery report is about. `force`: treat the message as a
    report even without report markers (the caller knows it came to a VERP address)."""
    texts = report_texts(msg)
    stdlib_msg = msg.stdlib
    ses = ses_notification(msg)
    if ses is not None and ses.get("notificationType") in ("Bounce", "Delivery"):
        rec = _ses_recipients(ses)
        kind = ses["notificationType"]
        return DsnReport(True, tuple(rec), (f"ses-json: notificationType={kind}",))
    esp = esp_events(msg)
    if esp:
        return DsnReport(True, tuple(esp), (f"esp-json: {len(esp)} delivery event(s)",))
    evidence = _recognise(msg, texts)
    if not evidence and not force and depth < 2:
        forwarded = _forwarded_report(msg, depth)
        if forwarded is not None:
            return forwarded
    if not evidence and not force:
        notice = _list_manager_notice(msg, texts)
        return notice if notice is not None else DsnReport(False)
    exclude = _exclusions(msg)
    context = "\n".join(texts)[:20_000]
    delayed_text = bool(_DELAY_TEXT.search(context[:6_000]) or
                        re.search(r"\bdelay", msg.subject, re.I))
    permanent_hint = (True if _PERMANENT_TEXT.search(context[:6_000]) else
                      False if delayed_text else None)

    found: list[BouncedRecipient] = []
    blocks, mtas = _status_blocks(msg)
    # the reporting MTA's names (From/Sender, Reporting-MTA), for vendor-specific replies
    reporter = " ".join([*(a for h in ("from", "sender") for v in msg.headers.all(h)
                           for a in header_addresses(v)), *mtas]).lower()[:2_000]
    if blocks:
        found = _from_blocks(blocks, texts, context, _arrival(msg), _date(msg.get("date")),
                             reporter)
        evidence.append(f"delivery-status: {len(found)} recipient block(s)")
    if not found:
        cands: list[_Cand] = []
        for t in texts:
            cands.extend(c for c in _text_candidates(t, set(exclude))
                         if norm(c.address) not in {norm(x.address) for x in cands})
        if not cands:
            # Nothing left: the recipient may equal the original's sender (a message
            # to oneself, or an anonymised sample). Retry excluding only the report's
            # own header addresses, and accept only recipient positions.
            own = _own_header_addresses(msg)
            for t in texts:
                cands.extend(c for c in _text_candidates(t, set(own))
                             if c.strong and norm(c.address) not in
                             {norm(x.address) for x in cands})
        if not cands:
            # Still nothing: the failed recipient may be the very address the report
            # was sent to (a message to oneself; anonymised samples use one address
            # for both). Exclude only the reporting daemon; accept recipient positions
            # whose own lines carry an SMTP reply (not a greeting "Dear <address>").
            frm = {norm(a) for name in ("from", "sender") for v in msg.headers.all(name)
                   for a in header_addresses(v)}
            for t in texts:
                strong = [c for c in _text_candidates(t, set(frm)) if c.strong]
                snips = _snippets(t, strong)
                cands.extend(c for c in strong
                             if reasons.find_reply_code(snips.get(norm(c.address), ""))
                             and norm(c.address) not in {norm(x.address) for x in cands})
        cands = [c for c in cands if not _never_a_recipient(c.address)]
        if cands and not any(c.strong for c in cands):
            cands = _narrow_weak(cands, msg, stdlib_msg)
        snippets: dict[str, str] = {}
        for t in texts:
            tc = [c for c in cands if norm(c.address) in t.lower()]
            for k, v in _snippets(t, tc).items():
                snippets.setdefault(k, v)
        # As in _from_blocks: the report's prose speaks for its one recipient; of
        # several, each is read with its own lines, never with another's ("mailbox is
        # over quota" for the next address in a qmail report).
        several = len(cands) > 1
        for c in cands:
            snip = snippets.get(norm(c.address), "")
            found.append(_judged(c.address, snip, snip if several else context, "text",
                                 delayed_text, permanent_hint, reporter))
        if found:
            evidence.append(f"text: {len(found)} recipient(s)")
    if not found and depth < 2:
        # A report that says nothing itself but carries another report (a gateway
        # wrapping the DSN it received): the enclosed one decides.
        for inner in msg.enclosed():
            sub = analyse(inner, depth=depth + 1)
            if sub.is_report and sub.failed:
                return DsnReport(True, sub.recipients,
                                 (*evidence, "enclosed report", *sub.evidence))
    if not found:
        xfr = [a for v in msg.headers.all("x-failed-recipients") for a in header_addresses(v)]
        for a in dict.fromkeys(xfr):
            found.append(_judged(a, _snippet_for(texts, a), context, "x-failed-recipients",
                                 delayed_text, permanent_hint, reporter))
        if found:
            evidence.append("header: X-Failed-Recipients")
    if not found and stdlib_msg is not None:
        for a in _flufl(stdlib_msg, exclude):
            found.append(_judged(a, _snippet_for(texts, a), context, "flufl", delayed_text,
                                 permanent_hint, reporter))
        if found:
            evidence.append("flufl.bounce detector")
    if not found:
        tos = _original_to(msg, exclude)
        if len(tos) == 1:
            found.append(_judged(tos[0], "", context, "original-to", delayed_text,
                                 permanent_hint, reporter))
            evidence.append("returned original: To")
    if depth < 2 and any(r.failed and r.why == "none" for r in found):
        found = _decided_by_enclosed(msg, found, depth, evidence)
    return DsnReport(True, tuple(_expanded_from(found, texts, evidence)), tuple(evidence))


# An alias or forward that failed behind the address we sent to: Exim's "target\n
# (generated from ours)", Postfix's "<target> (expanded from <ours>)". Without an
# Original-Recipient field the prose is what names the address we mailed; the target we
# never mailed, and suppressing it would protect no one.
_EXPANDED_FROM = re.compile(
    r"<?(?P<final>[^\s<>()\"@]{1,200}@[^\s<>()\"@]{1,200}?)>?:?\s*\(\s*(?:generated|expanded) "
    r"from:?\s*<?(?P<orig>[^\s<>()\"@]{1,200}@[^\s<>()\"@]{1,200}?)>?\s*\)", re.I)


def _expanded_from(found: list[BouncedRecipient], texts: list[str],
                   evidence: list[str]) -> list[BouncedRecipient]:
    if not found:
        return found
    origin: dict[str, str] = {}
    for t in texts:
        for m in _EXPANDED_FROM.finditer(t[:100_000]):
            origin.setdefault(norm(m.group("final")), m.group("orig"))
    if not origin:
        return found
    out: list[BouncedRecipient] = []
    seen = {norm(r.address) for r in found}
    for r in found:
        orig = origin.get(norm(r.address))
        if orig and norm(orig) not in seen:
            evidence.append(f"{r.address} was expanded from {orig}: the address mailed")
            seen.add(norm(orig))
            r = replace(r, address=orig)
        out.append(r)
    return out


# The header block of a message forwarded inline ("-----Original Message-----", "----------
# Forwarded message ---------", "Begin forwarded message:", or none): its From line.
_FORWARDED_FROM = re.compile(
    r"(?im)^[ \t]*(?:from|von|de|da|van|od|fra|fr[åa]n)[ \t]*:[ \t]*.{1,300}$")


def _forwarded_report(msg: Parsed, depth: int) -> DsnReport | None:
    """A report a person forwarded or a gateway wrapped to the return path ("FYI, this
    bounced", a ticket, a scanned attachment): the enclosed message (message/rfc822) or
    the one forwarded inline below a header block, when a mail daemon sent it and it
    reads as a report itself. Its failed recipients, except any at our own domain (the
    one it was sent to: a bounce of a mail someone sent us is not about our recipients)."""
    inners: list[Parsed] = list(msg.enclosed())
    for p in msg.report_parts():
        if p.ctype != "text/plain" or p.filename:
            continue
        for m in _FORWARDED_FROM.finditer(p.text[:100_000]):
            # only its From line decides whether a daemon sent it: nothing more is cut
            # out or parsed for the quoted header of an ordinary reply
            if _sender_like(parse_header_block(m.group(0).strip())):
                block = p.text[m.start():m.start() + 200_000].lstrip()
                raw = block.replace("\r\n", "\n").encode("utf-8", "replace")
                with contextlib.suppress(ValueError):  # unparseable: not a report
                    inners.append(parse_message(raw))
                break
    ours = {_org_domain(a) for name in ("to", "cc") for v in msg.headers.all(name)
            for a in header_addresses(v)}
    for inner in inners[:5]:
        if not _sender_like(inner.headers):
            continue
        sub = analyse(inner, depth=depth + 1)
        kept = tuple(r for r in sub.recipients if _org_domain(r.address) not in ours)
        if sub.is_report and any(r.failed for r in kept):
            return DsnReport(True, kept, ("a mail daemon's report forwarded or wrapped",
                                          *sub.evidence))
    return None


def _org_domain(address: str) -> str:
    """The registrable domain of an address ("shop.co.uk" for a@mx.shop.co.uk, by the
    Public Suffix List); the whole domain when it is itself a suffix or unlisted."""
    domain = address.rpartition("@")[2].lower().rstrip(".")
    if domain.startswith("["):  # an address literal is its own
        return domain
    return _psl().privatesuffix(domain) or domain


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the list the package bundles: no network, ~80 ms to load


def _decided_by_enclosed(msg: Parsed, found: list[BouncedRecipient], depth: int,
                         evidence: list[str]) -> list[BouncedRecipient]:
    """Recipients the report names but gives no reason for ("Unable to deliver message
    to <…>", nothing else), where the message it returns is itself a failure report
    about the same address (a gateway passing on the bounce it could not deliver). The
    enclosed report's verdict is taken only where its own line for that address carries
    an SMTP reply code, so ordinary wording in a returned newsletter never decides."""
    inner: dict[str, BouncedRecipient] = {}
    for sub_msg in msg.enclosed():
        for r in analyse(sub_msg, force=True, depth=depth + 1).failed:
            if r.why != "none" and reasons.find_reply_code(r.diagnostic):
                inner.setdefault(norm(r.address), r)
    out: list[BouncedRecipient] = []
    for r in found:
        s = inner.get(norm(r.address)) if r.failed and r.why == "none" else None
        if s is None:
            out.append(r)
            continue
        # the gateway's own word on the delivery stands: a delay it reports is never hard
        klass: BounceClass = s.klass if r.action == "failed" else "soft"
        out.append(BouncedRecipient(r.address, s.status, s.reply_code, r.action, klass,
                                    s.reason, s.diagnostic, r.source,
                                    f"enclosed-report:{s.why}"))
        evidence.append(f"enclosed report decides {r.address}")
    return out


def _judged(addr: str, snippet: str, context: str, source: str, delayed: bool,
            permanent_hint: bool | None, reporter: str = "") -> BouncedRecipient:
    status = reasons.find_status(snippet) or reasons.find_status(context)
    reply = reasons.find_reply_code(snippet) or reasons.find_reply_code(context)
    j = reasons.judge(status, reply, snippet, delayed=delayed,
                      permanent_hint=permanent_hint, context=context,
                      stage=reasons.smtp_stage(snippet), reporter=reporter)
    return BouncedRecipient(addr, status, reply, "delayed" if delayed else "failed", j.klass,
                            j.reason, snippet.strip()[:500], source, j.why)


def _from_blocks(blocks: list[Headers], texts: list[str], context: str,
                 arrival: datetime | None, reported: datetime | None,
                 reporter: str = "") -> list[BouncedRecipient]:
    by_addr: dict[str, BouncedRecipient] = {}
    # The report's prose speaks for its one recipient. Of several, it may give another's
    # cause ("mailbox full" for the third of three): each is read with its own lines.
    several = len({first_address(b.get("original-recipient"))
                   or first_address(b.get("final-recipient")) for b in blocks}) > 1
    for b in blocks:
        orig = first_address(b.get("original-recipient"))
        final = first_address(b.get("final-recipient"))
        addr = orig or final
        if not addr:
            continue
        action = (b.get("action") or "").strip().lower().split()[0:1]
        act = action[0] if action else ""
        status_field = _clean_status(b.get("status"))
        diag = _diag_value(b.get("diagnostic-code"))
        extra = " ".join(v for k, v in b.items if k.startswith("x-") and "diag" in k)
        diag_all = f"{diag} {extra}".strip()
        status = status_field
        diag_status = reasons.find_status(diag_all)
        if diag_status and (not status or status.endswith(".0.0")) and \
                diag_status[0] == (status or diag_status)[0]:
            status = diag_status
        reply = reasons.find_reply_code(diag_all)
        if not act:
            act = "failed" if status[:1] in ("4", "5") or not status else (
                "delivered" if status[:1] == "2" else "failed")
        if act in SUCCESS_ACTIONS or status[:1] == "2":
            done = "delivered" if act in ("deliverable", "") else act
            rec = BouncedRecipient(addr, status, reply, done, "soft", "other", diag,
                                   "delivery-status", f"action:{done}")
        else:
            snippet = diag_all
            near = _snippet_for(texts, final or addr) or _snippet_for(texts, addr)
            if len(reasons.clean_text(diag_all)) < 12:
                snippet = f"{diag_all}\n{near}"
            delayed = act == "delayed"
            last = _date(b.get("last-attempt-date")) or reported
            j = reasons.judge(status, reply, snippet, delayed=delayed,
                              permanent_hint=act == "failed",
                              context=near if several else context,
                              stage=reasons.smtp_stage(f"{diag_all}\n{near}"),
                              retried_hours=_retried_hours(arrival, last),
                              reporter=reporter)
            rec = BouncedRecipient(addr, status, reply, act if act in FAILED_ACTIONS else
                                   "failed", j.klass, j.reason, snippet.strip()[:500],
                                   "delivery-status", j.why)
        key = norm(addr)
        prev = by_addr.get(key)
        if prev is None or (rec.failed and not prev.failed) or (
            rec.action == "failed" and prev.action == "delayed"
        ):
            by_addr[key] = rec
    return list(by_addr.values())


def _narrow_weak(cands: list[_Cand], msg: Parsed,
                 stdlib_msg: email.message.Message | None) -> list[_Cand]:
    """Addresses only mentioned in passing: keep the ones other evidence confirms."""
    confirm: set[str] = set()
    for v in msg.headers.all("x-failed-recipients"):
        confirm.update(norm(a) for a in header_addresses(v))
    if stdlib_msg is not None:
        confirm.update(_flufl(stdlib_msg, set()))
    for oh in msg.original_headers():
        for name in ("to", "cc"):
            for v in oh.all(name):
                confirm.update(norm(a) for a in header_addresses(v))
    narrowed = [c for c in cands if norm(c.address) in confirm]
    return narrowed or cands[:1]


def _flufl(stdlib_msg: email.message.Message, exclude: set[str]) -> list[str]:
    try:
        temporary, permanent = all_failures(stdlib_msg)
    except Exception:
        return []
    out: list[str] = []
    for raw in sorted(set(temporary) | set(permanent)):
        a = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        m = ADDR_RE.search(a)
        if m and norm(m.group(1)) not in exclude and not _IDLIKE.match(
            m.group(1).split("@", 1)[0]
        ) and not _never_a_recipient(m.group(1)):
            out.append(m.group(1))
    return out


# A mailing-list manager's notice that the message sent to a list address was refused:
# Mailman's "was rejected", Sympa's "liste inconnue", LISTSERV's "not authorized to send".
# No DSN, no daemon address: known by the sender (the list software or a list's -owner)
# or its headers, by refusal wording, and by the returned original's one To.
_LIST_SOFTWARE = re.compile(r"^(?:sympa|listserv|mailman|majordomo|lyris|ezmlm|"
                            r"[\w.+-]+-(?:owner|bounces|request|admin))$", re.I)
_LIST_HEADERS = ("x-mailman-version", "x-sympa-error", "x-listserv", "x-list-manager",
                 "x-ezmlm")
_LIST_UNKNOWN = (r"\b(?:unknown|no such) list\b|\bliste (?:\S+ )?(?:est )?inconnue\b|"
                 r"\bliste (?:\S+ )?(?:existiert nicht|unbekannt)\b|\blist (?:\S+ )?(?:does not "
                 r"exist|doesn't exist|not found)\b")
_LIST_REFUSED = re.compile(
    r"\b(?:was|has been|wurde) (?:rejected|refused|abgelehnt|zur[üu]ckgewiesen)\b|"
    r"\bnot authori[sz]ed to (?:send|post)\b|\bn'a pas pu (?:être|etre) distribu[ée]|"
    r"\bnon distribu[ée]\b|" + _LIST_UNKNOWN, re.I)
_LIST_GONE = re.compile(_LIST_UNKNOWN + r"|\b(?:a [ée]t[ée] supprim[ée]e|has been (?:deleted|"
                        r"removed|closed))\b", re.I)


def _list_manager_notice(msg: Parsed, texts: list[str]) -> DsnReport | None:
    addr = first_address(msg.get("from") or "") or ""
    software = bool(_LIST_SOFTWARE.match(addr.rpartition("@")[0])) or any(
        msg.get(h) for h in _LIST_HEADERS)
    head = "\n".join(t[:6_000] for t in texts[:3])
    refused = _LIST_REFUSED.search(head) or _LIST_REFUSED.search(msg.subject)
    if not (software and refused):
        return None
    exclude = _exclusions(msg)
    tos = [a for a in _original_to(msg, exclude) if not _never_a_recipient(a)]
    if len(tos) != 1:
        return None
    gone = bool(_LIST_GONE.search(head) or _LIST_GONE.search(msg.subject))
    reason: Reason = "user_unknown" if gone else "policy_blocked"
    why = "text:list-unknown" if gone else "text:list-refused"
    rec = BouncedRecipient(tos[0], "", "", "failed", "hard" if gone else "soft", reason,
                           refused.group(0)[:200], "original-to", why)
    return DsnReport(True, (rec,), (f"from: list software {addr[:60]}",
                                    f"text: {refused.group(0)[:60]}",
                                    f"original To: {tos[0]}"))


def _original_to(msg: Parsed, exclude: set[str]) -> list[str]:
    out: list[str] = []
    for oh in _all_originals(msg):
        for v in oh.all("to"):
            for a in addresses_in(v):
                if norm(a) not in exclude and norm(a) not in {norm(x) for x in out}:
                    out.append(a)
    return out


# -- a report that names no recipient ----------------------------------------------------

@dataclass(frozen=True, slots=True)
class TextJudgement:
    """What the words of a report say when no recipient could be read from it (the
    caller knows the recipient from elsewhere: the VERP token)."""

    klass: BounceClass
    reason: Reason
    status: str
    reply_code: str
    why: str
    coded: bool  # an SMTP reply code or enhanced status code was found

    def as_dict(self) -> dict[str, Any]:
        return {"class": self.klass, "reason": self.reason, "status": self.status,
                "reply_code": self.reply_code, "why": self.why}


def judge_text(msg: Parsed) -> TextJudgement:
    """Hard only on clear permanent indications: a 5.x.x code or a 5xx reply, or explicit
    'permanent' wording, together with wording that the mailbox or domain does not exist
    (in the report languages `reasons` knows) and nothing that blames the sender. A text
    that says nothing, or says "delayed", is soft."""
    text = "\n".join(report_texts(msg))[:20_000] or msg.subject
    status = reasons.find_status(text)
    reply = reasons.find_reply_code(text)
    delayed = bool(_DELAY_TEXT.search(text[:6_000]) or re.search(r"\bdelay", msg.subject, re.I))
    explicit = bool(_PERMANENT_TEXT.search(text[:6_000])) or status[:1] == "5" or \
        reply[:1] == "5"
    j = reasons.judge(status, reply, text, delayed=delayed,
                      permanent_hint=explicit and not delayed,
                      stage=reasons.smtp_stage(text))
    klass: BounceClass = j.klass if explicit else "soft"
    return TextJudgement(klass, j.reason, status, reply, j.why, bool(status or reply))
