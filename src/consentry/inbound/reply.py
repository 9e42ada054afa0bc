"""The sender's own words of a reply: quoted text, forwarded originals, signatures and
disclaimers removed, so words in our quoted newsletter footer ("abmelden", "opt out")
never count as the recipient's.

Our own rules run first because they must handle what generic parsers get wrong:
bottom-posting (the reply *after* the quote), attribution lines wrapped over two lines,
Outlook header blocks and attribution lines in the languages the intent rules read
("Von:/Gesendet:/An:/Betreff:", "De:/Envoyé:", "Od:/Wysłano:", "От:/Отправлено:",
"发件人：/发送时间：" …), "-----Original Message-----" separators. mail-parser-reply then
removes signatures and disclaimers in many languages; our closing-line rule catches the
short German and Polish closings it does not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mailparser_reply import EmailReplyParser  # type: ignore[import-untyped]  # no py.typed
from mailparser_reply.constants import MAIL_LANGUAGES  # type: ignore[import-untyped]

from .parse import Parsed
from .textutil import html_to_text

__all__ = ["Reply", "body_text", "latest_reply"]

MAX_TEXT = 65_536
ASIDE_READ = 4_000  # characters of the set-aside text kept for the review check
# every language mail-parser-reply knows (1.36): de en fr es it nl pl sv da cs ja ko zh
_LANGS = ["de", "en", "fr", "es", "it", "nl", "pl", "sv", "da", "cs", "ja", "ko", "zh"]


def _whole_word_signatures() -> None:
    """mail-parser-reply's sign-off words match as the start of any word: Danish "Tak"
    takes "take us off the PTA email list? Thanks …" for a signature and sets the request
    aside, German "Gruss" a "Grusskarte". Each one that ends in a letter or a group gets
    a lookahead for a non-letter (in the library's shared table, once)."""
    for lang in _LANGS:
        table = MAIL_LANGUAGES.get(lang) or {}
        sigs = table.get("signatures")
        if not isinstance(sigs, list) or table.get("_consentry_whole_words"):
            continue
        table["signatures"] = [p if p.endswith((",", ".", ":", ";", "!")) else
                               f"(?:{p})(?![^\\W\\d_])" for p in sigs]
        table["_consentry_whole_words"] = True


_whole_word_signatures()
_PARSER = EmailReplyParser(languages=list(_LANGS))


@dataclass(frozen=True, slots=True)
class Reply:
    text: str  # the sender's own words
    evidence: tuple[str, ...] = field(default_factory=tuple)
    # Characters of the sender's own text removed as a signature, disclaimer or closing
    # (mail-parser-reply, or past the part it reads; the closing-line rule): `text` is
    # read, these are not.
    set_aside: int = 0
    # The start of that set-aside text (a PS below the sign-off): read for review only.
    aside_text: str = ""


# "On Thu, Apr 9, 2026 at 8:30 AM X <x@y> wrote:" and its translations; may wrap.
_ATTRIBUTION = re.compile(
    r"^[ \t>]*(?:"
    r"on\b.{0,200}\bwrote\s*:|"
    r"am\b.{0,200}\bschrieb\b.{0,200}:|"
    r"le\b.{0,200}\ba [ée]crit\s*:|"
    r"el\b.{0,200}\bescribi[óo]\s*:|"
    r"il (?:giorno )?.{0,200}\bha scritto\s*:|"
    r"op\b.{0,200}\b(?:schreef|het volgende geschreven)\b.{0,200}:|"
    r".{0,200}\bnapisa[łl](?:\(a\))?\s*:|"
    r"den\b.{0,200}\bskrev\b.{0,200}:|"
    r".{0,200}\b(?:wrote|schrieb|a [ée]crit|escribi[óo]|ha scritto|schreef|geschreven)\s*:|"
    # pt sv da no fi cs sk hu ro tr el ru uk bg hr sl lt lv et ca he ar
    r".{0,200}\b(?:escreveu|skrev|kirjoitti|naps(?:al|ala)|nap[íi]sal(?:a)?|[íi]rta|a scris|"
    r"yazd[ıi]|[έε]γραψε|писал|написал|написав|написала|написа|napisao|napisala|napisal|"
    r"ra[šs][ėe]|rakst[īi]ja|kirjutas|va escriure|כתב|כתבה|كتب|نوشت|لکھا|"
    r"تمت كتابة ما يلي بواسطة.{0,200}?)(?:\(a\)|\(ла\)|\(la\))?"
    r"(?: je)?\s*[:：]|"
    # zh ja ko
    r".{0,200}(?:写道|寫道|書きました|のメッセージ|작성)\s*[:：]?"
    r")[ \t]*$",
    re.I,
)
_ATTRIBUTION_START = re.compile(
    r"^[ \t>]*(?:on|am|le|el|il giorno|il|op|den)\b.{0,200}(?:<|\d{1,2}:\d{2})", re.I)
_SEPARATOR = re.compile(
    r"^[ \t>]*(?:-{3,}\s*(?:original message|ursprüngliche nachricht|originalnachricht|"
    r"message d'origine|mensaje original|messaggio originale|oorspronkelijk bericht|"
    r"wiadomo[sś][cć] oryginalna|originalmeddelande|forwarded message|weitergeleitete "
    r"nachricht|message transf[ée]r[ée]|mensaje reenviado|messaggio inoltrato|"
    r"doorgestuurd bericht|wiadomo[sś][cć] przekazana)\s*-{3,}|"
    r"begin forwarded message\s*:|anfang der weitergeleiteten nachricht\s*:|"
    r"d[ée]but du message r[ée]exp[ée]di[ée]\s*:|"
    # any title between dashes: "-----Original-Nachricht-----" (GMX, Web.de), "--------
    # Ujumbe asili --------", "--- Mensagem original ---" in the languages not listed
    # "------ Rejected message (18 lines) ------" (LISTSERV)
    r"-{3,}\s*[^\W\d_][^\W\d_' -]{1,30}(?:[ -][^\W\d_]{1,20}){0,3}(?:\s*\(\d+ [^\W\d_]+\))?"
    r"\s*-{3,})[ \t]*$",
    re.I,
)
_OUTLOOK_FROM = re.compile(
    r"^[ \t>*]*(?:from|von|de|da|van|od|fr[åa]n|fra|l[äa]hett[äa]j[äa]|felad[óo]|de la|kimden|"
    r"από|от|від|nuo|no|saatja|מאת|من|发件人|寄件者|差出人|送信者|보낸 사람)[ \t*]*[:：]\s*\S",
    re.I)
_OUTLOOK_NEXT = re.compile(
    r"^[ \t>*]*(?:sent|date|to|subject|cc|gesendet|datum|an|betreff|envoy[ée]|[àa]|objet|"
    r"enviado|fecha|para|asunto|inviato|data|a|oggetto|verzonden|aan|onderwerp|"
    r"wys[łl]ano|do|temat|skickat|till|[äa]mne|"
    r"enviada|assunto|sendt|til|emne|dato|l[äa]hetetty|vastaanottaja|aihe|p[äa]iv[äa]m[äa][äa]r[äa]|"
    r"odesl[áa]no|odoslan[ée]|komu|p[řr]edm[ěe]t|predmet|elk[üu]ldve|c[íi]mzett|t[áa]rgy|"
    r"d[áa]tum|trimis|c[ăa]tre|subiect|g[öo]nderildi|g[öo]nderilme tarihi|kime|konu|tarih|"
    r"αποστολ[ήη]|προς|θ[έε]μα|ημερομην[ίι]α|отправлено|кому|тема|дата|надіслано|изпратено|"
    r"до|poslano|prima|[šs]alje|za|zadeva|i[šs]si[uų]sta|kam|tema|nos[ūu]t[īi]ts|t[ēe]ma|"
    r"datums|saadetud|adressaat|teema|kuup[äa]ev|enviat|per a|assumpte|נשלח|אל|נושא|"
    r"تم الإرسال|إلى|الموضوع|التاريخ|发送时间|收件人|主题|日期|寄件日期|收件者|主旨|送信日時|"
    r"宛先|件名|日付|보낸 날짜|받는 사람|제목|날짜)[ \t*]*[:：]", re.I)
_RULE = re.compile(r"^[ \t]*[_\-=]{8,}[ \t]*$")
_RAW_HEADER = re.compile(r"^(?:(?:return-path|received|dkim-signature|arc-[\w-]+|authentication-"
                         r"results|received-spf|x-[\w-]+|delivered-to|envelope-to|"
                         r"x-original-to)[ \t]*:|[ \t]+\S)", re.I)
_RAW_HEADER_NAME = re.compile(r"^[A-Za-z][\w-]*[ \t]*:", re.I)
_SIGNATURE_DASHES = re.compile(r"^-- ?$")
_CLOSING = re.compile(
    r"^[ \t]*(?:mfg|lg|vg|mit freundlichen? gr[üu](?:ß|ss)en?|freundliche gr[üu](?:ß|ss)e|"
    r"viele gr[üu](?:ß|ss)e|beste gr[üu](?:ß|ss)e|liebe gr[üu](?:ß|ss)e|sch[öo]ne gr[üu](?:ß|ss)e|"
    r"gr[üu](?:ß|ss)e?|herzliche gr[üu](?:ß|ss)e|best regards|kind regards|regards|"
    r"best wishes|best|cheers|thanks|thank you|many thanks|sincerely|yours sincerely|"
    r"bien cordialement|cordialement|bien [àa] vous|salutations|saludos|un saludo|"
    r"atentamente|cordiali saluti|distinti saluti|saluti|groet(?:en)?|met vriendelijke groet|"
    r"hartelijke groet|pozdrawiam|z powa[żz]aniem|mvh|med v[äa]nliga h[äa]lsningar|"
    r"sent from my \w+|gesendet von meinem \w+|von meinem \w+ gesendet|enviado desde mi \w+|"
    r"envoy[ée] de mon \w+|inviato da \w+|verzonden vanaf mijn \w+|wys[łl]ane z \w+|"
    r"get outlook for \w+|t[ée]l[ée]charger outlook pour \w+|outlook f[üu]r \w+ herunterladen|"
    r"gesendet mit der \S+ (?:mail )?app|sent with the \S+ (?:mail )?app)"
    r"[ \t,.!]*(?:\S+)?[ \t]*$",
    re.I,
)


def body_text(msg: Parsed) -> str:
    """The message's main text: its first text/plain, else its first text/html."""
    plain = [p for p in msg.report_parts() if p.ctype == "text/plain" and not p.filename]
    if plain:
        return _unarmor(plain[0].text[:MAX_TEXT])
    html = [p for p in msg.report_parts() if p.ctype == "text/html" and not p.filename]
    if html:
        return html_to_text(html[0].text[: MAX_TEXT * 4])[:MAX_TEXT]
    return ""


_PGP_BEGIN = "-----BEGIN PGP SIGNED MESSAGE-----"
_PGP_SIGNATURE = re.compile(r"(?ms)^-----BEGIN PGP SIGNATURE-----$.*?^-----END PGP SIGNATURE-----$")


def _unarmor(text: str) -> str:
    """An inline PGP-signed text (RFC 4880 §7) as its reader sees it: the armour line and
    its Hash: headers, and the signature block, gone; dash-escaped lines ("- -- ")
    unescaped. Anything else unchanged."""
    if _PGP_BEGIN not in text[:2_000]:
        return text
    head, _, rest = text.partition(_PGP_BEGIN)
    rest = rest.replace("\r\n", "\n")
    lines = rest.split("\n")[1:]
    while lines and lines[0].strip():  # "Hash: SHA512"
        lines.pop(0)
    body = "\n".join(line[2:] if line.startswith("- ") else line for line in lines)
    return head + _PGP_SIGNATURE.sub("", body).lstrip("\n")


# The end of a newsletter's footer: a line with a link or "… | …" separators.
_FOOTERISH = re.compile(r"https?://|\bwww\.|\s\|\s")


def _after_unquoted_original(lines: list[str], start: int) -> int | None:
    """Where text typed below an unquoted original starts (a header block, then the
    newsletter as it was, then the answer: GMX and Web.de replies below the quote):
    after the original's last footer line and a blank line, when something follows and
    no other header block does. None otherwise."""
    n = len(lines)
    last = max((k for k in range(start, n) if _FOOTERISH.search(lines[k])), default=None)
    if last is None or last + 2 > n:
        return None
    k = last + 1
    while k < n and lines[k].strip() and not _FOOTERISH.search(lines[k]):
        k += 1  # the footer's last lines without a link ("Impressum | …" has one)
    if k == last + 1 and (k >= n or lines[k].strip()):
        return None
    rest = lines[k:]
    text = "\n".join(rest).strip()
    if not text or len(text) > 3_000 or _FOOTER_TEXT.search(text) or any(
            _OUTLOOK_FROM.match(ln) or _SEPARATOR.match(ln) for ln in rest):
        return None
    return k


# The newsletter's own closing words, never an answer typed below it.
_FOOTER_TEXT = re.compile(
    r"you (?:are )?receiv|sie erhalten diese|click here|klicken sie hier|hier klicken|"
    r"to stop receiving|wenn sie (?:keine|diesen)|if you (?:no longer|do not|don't) wish|"
    r"vous recevez|pour vous d[ée]sinscrire|si no desea|se non desideri|u ontvangt deze|"
    r"©|\(c\) \d{4}|all rights reserved|alle rechte", re.I)


def _is_outlook_block(lines: list[str], i: int) -> bool:
    if not _OUTLOOK_FROM.match(lines[i]):
        return False
    following = [ln for ln in lines[i + 1:i + 6] if ln.strip()]
    return sum(1 for ln in following[:4] if _OUTLOOK_NEXT.match(ln)) >= 2


def _below_quote(lines: list[str], start: int) -> int | None:
    """Where the text after a ">"-quoted original starts, when the original's header
    lines (From:, To:, Date:, Subject:) follow `start` and then only quoted lines; None
    when the original is not quoted (a forward: what follows it is the original) or no
    text follows the quote."""
    n = len(lines)
    j = start
    while j < n and j < start + 10 and (not lines[j].strip() or _OUTLOOK_FROM.match(lines[j])
                                        or _OUTLOOK_NEXT.match(lines[j])):
        j += 1
    if j >= n or not lines[j].lstrip().startswith(">"):
        return None
    while j < n and (not lines[j].strip() or lines[j].lstrip().startswith(">")):
        j += 1
    return j if j < n else None


def _answer_below(lines: list[str], i: int, kept: list[str]) -> int | None:
    """Where the answer starts when nothing was written above the original that opens at
    line i ("----- Original Message -----" or a header block) and the answer follows it:
    below a ">"-quoted original, or below an unquoted one's footer. None otherwise."""
    if any(k.strip() for k in kept):
        return None
    return _below_quote(lines, i + 1) or _after_unquoted_original(lines, i + 1)


def _own_rules(text: str) -> tuple[str, list[str]]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    ev: list[str] = []
    kept: list[str] = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        separator = bool(_SEPARATOR.match(line))
        if separator or _is_outlook_block(lines, i) or (_RULE.match(line) and i + 1 < n and any(
            _is_outlook_block(lines, k) for k in range(i + 1, min(i + 3, n))
        )):
            # GMX and Web.de put "Gesendet:" above "Von:": the block's own lines above
            # its From line go with it.
            for _ in range(0 if separator else 3):
                if kept and _OUTLOOK_NEXT.match(kept[-1]):
                    kept.pop()
            below = _answer_below(lines, i, kept)
            if below is not None:
                ev.append(f"answer below the quoted original: {line.strip()[:60]}")
                i = below
                continue
            what = "separator" if separator else "header block"
            if not separator:
                # a pasted header block starts above its From: Return-Path, Received,
                # DKIM-Signature and their folded lines go with it (a run that starts
                # with a named field; an indented line of the sender's own stays)
                top = len(kept)
                while top > 0 and len(kept) - top < 200 and _RAW_HEADER.match(kept[top - 1]):
                    top -= 1
                while top < len(kept) and not _RAW_HEADER_NAME.match(kept[top]):
                    top += 1
                del kept[top:]
            ev.append(f"cut at {what}: {line.strip()[:60]}")
            break
        attribution = bool(_ATTRIBUTION.match(line))
        span = 1
        if not attribution and i + 1 < n and _ATTRIBUTION_START.match(line):
            # Attribution wrapped over two lines ("... schrieb X <\nx@y>:").
            joined = f"{line} {lines[i + 1]}"
            if _ATTRIBUTION.match(joined):
                attribution, span = True, 2
        if attribution:
            j = i + span
            while j < n and not lines[j].strip():
                j += 1
            if j >= n or lines[j].lstrip().startswith(">"):
                ev.append(f"removed attribution: {line.strip()[:60]}")
                i += span
                continue
            # An attribution followed by unquoted text: the original follows unquoted.
            ev.append(f"cut at attribution: {line.strip()[:60]}")
            break
        if line.lstrip().startswith(">"):
            i += 1
            continue
        kept.append(line)
        i += 1
    return "\n".join(kept), ev


def _cut_closing(text: str) -> tuple[str, str | None]:
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if i == 0 or not line.strip():
            continue
        if _SIGNATURE_DASHES.match(line) or (_CLOSING.match(line) and len(line.strip()) <= 60):
            before = "\n".join(lines[:i]).strip()
            if before:
                return before, line.strip()
    return text, None


# Thanks words, which open a reply's sentence as often as they close it ("Thanks, but no
# thanks. …"); "Best regards, John Smith, CEO" is a signature and stays one.
_SIGNOFF_WORD = re.compile(
    r"(?:many |vielen |herzlichen |besten )?(?:thanks?|thank you|thx|ty|dank|danke|merci|"
    r"merci beaucoup|gracias|muchas gracias|grazie|grazie mille|bedankt|dank je|dank u|"
    r"dankjewel|dankuwel|dzi[ęe]kuj[ęe]|dzi[ęe]ki|obrigad[oa]|tack|tak|takk|kiitos|d[íi]ky|"
    r"d[ěe]kuji|k[öo]sz[öo]n[öo]m|mul[țţt]umesc|te[şs]ekk[üu]rler|ευχαριστ[ώω]|спасибо|дякую)",
    re.I)


def _signoff_opens_a_sentence(line: str) -> bool:
    """mail-parser-reply takes a line that opens with a sign-off word for the signature's
    start. "Thanks," is one; "Thanks, but no thanks. Please remove me from your list." and
    "Bedankt, maar nee bedankt. Haal me van de lijst." are the reply itself."""
    words = line.split()
    if len(words) < 5 or len(line) > 300 or line.rstrip().endswith((":", "：")):
        return False
    head = re.split(r"[,.!;]", line, maxsplit=1)[0].strip()
    # Only a thanks word opening the line: a quote header mail-parser-reply knows and our
    # rules do not ("On … wrote:") is a cut to keep, and so is a signature.
    return bool(_SIGNOFF_WORD.fullmatch(head)) and bool(
        re.search(r"[,.!;]\s*\S+(?:\s+\S+){2,}", line))


# Bidirectional-text controls Gmail and Outlook wrap around names and addresses in Arabic,
# Persian and Hebrew attribution lines: invisible, and in the way of every line rule.
_BIDI = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067"
                          "\u2068\u2069"))


def latest_reply(msg: Parsed) -> Reply:
    text = body_text(msg).translate(_BIDI)
    own, ev = _own_rules(text[:MAX_TEXT])
    own = own.strip()
    result = own
    if own:
        try:
            parsed = _PARSER.read(own[:MAX_TEXT // 2])
            first = parsed.replies[0].body if parsed.replies else ""
        except (IndexError, AttributeError, ValueError):  # pragma: no cover - defensive
            first = ""
        first = (first or "").strip()
        if first and len(first) < len(own):
            rest = own[len(first):].lstrip() if own.startswith(first) else ""
            line = rest.split("\n", 1)[0].strip()
            if _signoff_opens_a_sentence(line):
                ev.append(f"signature cut not taken, its line goes on: {line[:40]}")
            else:
                ev.append("mail-parser-reply: signature/disclaimer removed")
                result = first
    cut, closing = _cut_closing(result)
    if closing is not None:
        ev.append(f"cut at closing: {closing[:40]}")
        result = cut
    result = result.strip()
    aside = own[len(result):] if own.startswith(result) else own
    return Reply(result, tuple(ev), max(0, len(own) - len(result)), aside.strip()[:ASIDE_READ])
