"""Why a delivery failed, and whether that makes the *address* dead.

The decision is ours, not flufl.bounce's: it reads enhanced status codes (RFC 3463),
SMTP reply codes and the wording of real MTAs. Two rules matter more than the rest:

  - Only a permanent failure that names the recipient mailbox or its domain as
    non-existent is ``hard`` (user unknown, domain unknown, moved without forwarding,
    a domain that accepts no mail, RFC 7505 null MX). Everything else is ``soft``.
  - A rejection because of the *sender* (blocklisted IP, reputation, SPF/DKIM/DMARC,
    reverse DNS, spam content, relay policy, rate limits) says nothing about the
    recipient's mailbox. Such wording wins over any user-unknown-like phrase in the
    same text, so a list is never wiped because our own IP landed on a blocklist.

Texts are matched after URLs and e-mail addresses are removed: providers put words like
``#blocked`` in help URLs and test mailboxes are called ``filtered@…``; neither is
evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Reason = Literal[
    "user_unknown",
    "mailbox_full",
    "domain_unknown",
    "policy_blocked",
    "spam_rejected",
    "message_too_large",
    "expired",
    "other",
]
BounceClass = Literal["hard", "soft"]
HARD_REASONS: frozenset[str] = frozenset({"user_unknown", "domain_unknown"})

_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"')\]]{0,500}|\bwww\.[^\s<>\"')\]]{1,500}", re.I)
_ADDR = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@[\w.-]{1,255}")
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)")
_REPLY = re.compile(r"(?<![\w.#-])([245][0-5]\d)(?=[ -]+(?:[245]\.\d|\S)|[\s:;,)]|$)")


def clean_text(text: str, limit: int = 4_000) -> str:
    """Lower-cased diagnostic without URLs and addresses, whitespace collapsed."""
    t = _URL.sub(" ", text[: limit * 2])
    t = _ADDR.sub(" ", t)
    t = re.sub(r"\s+", " ", t).strip().lower()
    return t[:limit]


def find_status(text: str) -> str:
    """The most specific enhanced status code in `text` ("" if none)."""
    best = ""
    for m in _ENHANCED.finditer(text[:8_000]):
        code = ".".join(m.groups())
        if not best or (best.endswith(".0.0") and not code.endswith(".0.0")):
            best = code
    return best


def find_reply_code(text: str) -> str:
    m = _REPLY.search(text[:8_000])
    return m.group(1) if m else ""


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts))


# Sender-side: the receiving system objects to us (IP, domain, authentication, content,
# volume) or to routing; never evidence about the recipient's mailbox.
_SPAM = _rx(
    r"\bspam(?!haus|cop|rats)", r"\bjunk\b", r"\bunsolicited\b", r"\bbulk e?-?mail\b", r"\bvirus",
    r"\bmalware\b", r"\bphish", r"\binfected\b", r"content (?:was )?rejected",
    r"message (?:content )?(?:was )?(?:rejected|refused) (?:due to|because of|as) (?:its )?"
    r"content", r"\bsuspicious\b", r"mail rejete?\b", r"\bcontent[- ]filter",
    r"\bscore\b.{0,30}\bexceed", r"\buce\b", r"message .{0,40}look(?:s|ed) like",
    r"considered (?:as )?(?:spam|unsolicited)", r"\bscam\b",
)
_POLICY = _rx(
    r"\bblock(?:ed|list(?:ed)?|ing)\b", r"\bblack ?list", r"\bdeny ?list", r"\brbl\b",
    r"\bdnsbl\b", r"\bspamhaus\b", r"\bspamcop\b", r"\bsorbs\b", r"\bbarracuda",
    r"\breputation\b", r"\bptr\b", r"reverse (?:dns|lookup|address|name)", r"\brdns\b",
    r"\bhelo\b", r"\behlo\b", r"\bspf\b", r"\bdkim\b", r"\bdmarc\b", r"\bauthenticat",
    r"\bnot authori[sz]ed\b", r"\bunauthori[sz]ed\b", r"\brelay(?:ing)?\b",
    r"\bpolicy\b", r"\bpolicies\b", r"\brate[- ]?limit", r"\bthrottl",
    r"too many (?:connections|messages|sessions|concurrent|mails|emails)",
    r"\bexceeded .{0,20}(?:rate|connections)", r"\b(?:start)?tls\b", r"\bencrypt",
    r"\baccess denied\b", r"\bdenied\b", r"\bprohibited\b", r"\bnot (?:permitted|allowed)\b",
    r"\bsender (?:address |domain )?(?:is )?(?:rejected|refused|denied|blocked|unknown|"
    r"invalid|not (?:allowed|authori[sz]ed|permitted|verified)|verify failed|"
    r"verification)", r"\b(?:rejected|refused|denied|blocked)\b.{0,30}\bsender\b",
    r"\bsender'?s? (?:domain|ip|address|host)\b", r"\bopen relay\b",
    r"\bafter mail from\b", r"\bclient host\b", r"\brecipient preferences\b",
    r"\btoo many recipients\b", r"\bsent (?:to )?too many\b", r"\brefused due to\b",
    r"\byour (?:ip|host|server|domain|network|mail server|address)\b",
    r"\bip (?:address )?.{0,40}\b(?:listed|blocked|banned|rejected)",
    r"\bdynamic (?:ip|address)", r"\bdial-?up\b", r"\bresidential\b",
    r"please use the smtp server", r"\bgreylist", r"\bgray ?list", r"\bbanned\b",
    r"\bcertificate\b", r"\bsecurity (?:policy|policies|reasons?|violation|error|check)",
    r"\bnot compliant\b",
    r"\b(?:violat\w*|not conform\w*|compliant with) (?:to )?rfc", r"\brfc ?\d{3,4} (?:compliant|"
    r"violation)",
    r"\b(?:invalid|malformed|missing|bad|broken|duplicate) (?:\w+ )?(?:headers?|message-id)\b",
    r"\bheaders? (?:\w+ )?(?:invalid|malformed|missing|rejected|too long)", r"\bsyntax\b",
    r"\bcommand\b.{0,20}\b(?:rejected|unrecognized|not implemented)", r"\bprotocol\b",
    r"\bfiltered\b", r"\bfilter\b",
    r"\bquarantin", r"\bmoderat", r"\bnot a member\b", r"\bonly (?:members|subscribers)\b",
    r"\bgroup\b.{0,40}\b(?:post|permission)", r"\bpermission\b",
    r"\bunverified\b", r"\bverif(?:y|ication) (?:failed|required)",
)

_EXPIRED = _rx(
    # qmail says "Giving up on <host>" after a permanent refusal: not an expiry.
    r"\bexpired\b", r"\bgiving up\b(?! on\b)", r"\bgave up\b(?! on\b)",
    r"\bretry (?:time|timeout|period)",
    r"could not (?:be )?deliver(?:ed)? (?:for|within|in) (?:the last )?\d",
    r"(?:was )?not (?:been )?delivered (?:within|for|in) \d", r"unable to deliver in \d",
    r"\bdelivery time (?:expired|exceeded)", r"\btoo long\b.{0,30}\bqueue",
    r"(?:has been|was) in the queue too long", r"\bqueue lifetime",
    r"\bmaximum (?:time|delivery time)", r"\bno (?:delivery|successful delivery) after",
)
_TOO_LARGE = _rx(
    r"message (?:size )?(?:is )?too (?:large|big)", r"\bsize limit", r"\bmail size",
    r"exceeds? (?:the )?(?:maximum |max )?(?:allowed )?(?:message |mail )?size",
    r"message (?:size|length) exceeds", r"message (?:is )?larger than",
    r"\btoo large\b", r"\bmaximum message size", r"\bmessage too long",
)
_FULL = _rx(
    r"\bmailbox (?:is )?full\b", r"\bfull mailbox\b", r"\bover ?quota\b", r"\bquota\b",
    r"\bmailbox (?:size )?limit", r"\binsufficient (?:disk |storage )?(?:space|storage)",
    r"\bstorage (?:space )?(?:is )?(?:full|exceeded)", r"\bout of storage",
    r"\bmailbox (?:has )?exceeded", r"\bexceeded (?:the )?(?:storage|mailbox)",
    r"\bpostfach (?:ist )?voll", r"\bspeicherplatz", r"bo[iî]te .{0,20}pleine",
    r"\bcasella .{0,20}piena", r"buz[oó]n .{0,20}lleno", r"\bmailbox .{0,20}\bfull\b",
    r"\bnot enough (?:disk |storage )?(?:space|storage)", r"\bdisk (?:is )?full\b",
    r"account is full", r"user has exceeded", r"is over (?:the )?(?:storage|disk)",
    # pl nl pt cs hu ro sv da no fi
    r"\bskrzynka .{0,30}\bpe[łl]na\b", r"\bprzepe[łl]nion\w* skrzynk",
    r"\bmailbox .{0,20}\bvol\b",
    r"\bcaixa (?:de correio )?.{0,20}\bcheia\b", r"\bschr[áa]nka .{0,20}\bpln[áa]\b",
    r"\bpostafi[óo]k .{0,20}\bmegtelt", r"\bc[ăa]su[țţt]a .{0,20}\bplin[ăa]\b",
    r"\bbrevl[åa]da .{0,20}\bfull\b", r"\bpostkasse .{0,20}\bfuld\b",
    r"\bpostkasse .{0,20}\bfull\b",
    r"\bpostilaatikko .{0,20}\btäynnä\b",
)
_MOVED = _rx(r"\bhas moved\b", r"\bno forwarding address\b", r"\bmoved permanently\b")
_USER = _rx(
    r"\buser (?:is )?unknown\b", r"\bunknown (?:user|recipient|mailbox|account|address|"
    r"local[- ]part|e-?mail address)\b", r"\bno such (?:user|mailbox|recipient|account|"
    r"address|person|local user|e-?mail)\b",
    r"\b(?:user|mailbox|recipient|account|address|addressee|e-?mail address|local part)"
    r"(?: name)? (?:(?!may |might |could |possibly |probably )\S+ )?(?:does not|doesn't|"
    r"did not|doesnt|not|is not) exists?\b",
    r"\b(?:user|mailbox|recipient|account|address|addressee|user account)"
    r"(?: name)? (?:\S+ )?(?:is )?(?:not found|unknown|invalid|not valid|not recogni[sz]ed|"
    r"not listed|nonexistent|non-existent|inexistent)",
    r"\b(?:invalid|bad|unknown|nonexistent|non-existent) (?:recipient|mailbox|user|"
    r"destination mailbox|address|e-?mail address)\b",
    r"\bnot (?:a )?(?:valid|known) (?:user|mailbox|recipient|address)",
    r"\brecipient (?:name )?(?:is )?not recogni[sz]ed", r"\bnot listed in\b",
    r"\bno mailbox\b", r"\bmailbox not (?:found|available)\b", r"\bno account\b",
    r"\bis not a (?:registered|known|valid)\b(?! gateway)", r"\baddress (?:is )?(?:not|no longer) "
    r"(?:valid|in use|available)", r"\bno longer (?:valid|active|exists|available)\b",
    r"\b(?:does not|doesn['’]?t) have an? .{0,30}\baccount\b",
    r"\bno (?:such|valid) (?:one|person) at\b",
    r"\bunrouteable address\b", r"\bmailbox unavailable\b.{0,40}\b(?:unknown|exist)",
    r"\brecipient (?:address )?rejected: (?:user unknown|unknown|undeliverable address)",
    r"\brecipient not found\b", r"\bunbekannt\b", r"\bexistiert nicht\b",
    r"\bgibt es nicht\b", r"\bexistiert (?:hier |dort )?kein(?:e|en)? (?:postfach|mailbox|"
    r"e-?mail-?konto|konto|benutzer(?:konto)?|empf[äa]nger)\b",
    r"\b(?:postfach|empf[äa]nger(?:adresse)?|benutzer|adresse) (?:\S+ )?(?:ist )?"
    r"(?:nicht vorhanden|ung[üu]ltig|nicht bekannt)\b",
    r"\b(?:aucune|pas de) bo[iî]te (?:aux lettres|mail|de r[ée]ception)\b",
    r"\bcasella (?:\S+ )?(?:inesistente|non trovata)\b", r"\butilisateur inconnu\b",
    r"\bdestinataire inconnu\b",
    r"\badresse .{0,20}inexistante\b", r"n'existe pas\b", r"\busuario desconocido\b",
    r"\bno existe\b", r"\butente sconosciuto\b", r"\bnon esiste\b", r"\bonbekend\b",
    r"\bbestaat niet\b", r"\bnie istnieje\b", r"\bno such\b", r"\bunknown alias\b",
    r"\buser not found\b", r"\baddress not found\b",
    r"\bno valid recipients?\b",
    r"\baccount (?:that )?you tried to reach (?:does not|doesn't) exist",
    r"\baddress couldn'?t be found\b", r"\buser (?:does )?not exist\b", r"\bnot our customer\b",
    r"\bdisabled by the user\b.{0,10}\bdeleted\b", r"\bhas been deleted\b",
    r"\baccount (?:has been )?(?:deleted|removed|closed|terminated)\b",
    # InterScan and others: the report's only reason is that the address is wrong.
    r"\bplease check (?:if|whether|that) (?:the )?(?:e-?mail )?address is (?:correct|valid)",
)
_DOMAIN = _rx(
    r"\bhost (?:or domain name )?not found\b", r"\bhost (?:is )?unknown\b",
    r"\bunknown (?:host|domain)\b", r"\bdomain (?:name )?(?:is )?(?:not found|unknown|"
    r"invalid|not exist)", r"\bno such (?:domain|host)\b",
    r"\bdomain (?:\S+ )?(?:does not|doesn't) exist", r"\bname or service not known\b",
    r"\bnxdomain\b", r"\bno mx\b", r"\bnull mx\b", r"\bmx (?:record )?(?:\S+ )?not found",
    r"\bunroute?able (?:mail )?domain\b", r"\bbad destination system address\b",
    r"\b(?:does not|doesn't|will not|won't) accept (?:any )?(?:e-?)?mail",
    r"\bnot accepting (?:network )?(?:e-?)?(?:mail|messages)\b", r"\baccepts no mail\b",
    r"\bno (?:valid )?(?:mail exchanger|mail server|mx or a records?)",
    r"\bdns (?:lookup )?(?:error|failure)\b.{0,40}\bnot (?:found|exist)",
    r"\bnot found\b.{0,20}\bdns\b", r"\bdomain .{0,40}\bnot (?:configured|hosted)",
    r"\bunrouteable\b", r"\bunroutable\b", r"\bno route to (?:host|domain)\b",
    r"\bdomain (?:is )?(?:not reachable|unreachable)\b.{0,40}\bcheck the domain",
    r"\bcould(?:n't| not) find any host named\b",  # qmail-send
    r"\bmx records? point to non-?existent hosts?\b",  # Exim
    r"\b(?:mx|srv) record indicated no smtp service\b",  # Exim: a null MX (RFC 7505)
)
# A local delivery program failed (procmail, maildrop, a pipe): the mailbox's own
# machinery broke, which says nothing certain about the address ("No such user" from a
# uid lookup inside procmail is not the SMTP answer for the recipient).
_MAILER = _rx(
    r"\b(?:procmail|maildrop|dovecot-lda)\s*:", r"\bcouldn'?t (?:create|lock)\b",
    r"\bcommand (?:died|output|failed)\b", r"\bmailer error\b", r"\bpipe to \|",
)
_DISABLED = _rx(
    r"\b(?:account|mailbox|user|address) (?:\S+ )?(?:is |has been )?(?:disabled|"
    r"deactivated|suspended|inactive|locked|frozen|blocked|expired)", r"\bdisabled\b",
    r"\bsuspended\b", r"\binactive\b", r"\bon hold\b",
)


def _stage(*alts: str) -> re.Pattern[str]:
    return re.compile("|".join(alts), re.I)


_STAGES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("connect", _stage(r"\bafter (?:the )?(?:initial connection|connect(?:ion)?|greeting|banner)\b",
                       r"\bin reply to (?:the )?(?:initial )?(?:greeting|banner)",
                       r"\bconnection (?:refused|rejected) by\b")),
    ("helo", _stage(r">>> ?e?helo\b", r"\bafter e?helo\b", r"\bin reply to e?helo\b",
                    r"did not like our e?helo\b")),
    ("mail", _stage(r">>> ?mail from\b", r"\bsmtp command\W{0,20}mail\b", r"\bafter mail from\b",
                    r"\bin reply to mail from\b", r"did not like our mail from\b",
                    r"\bmail from command\b")),
    ("rcpt", _stage(r">>> ?rcpt to\b", r"\bprogress was rcpt to\b",
                    r"\bsmtp command\W{0,20}rcpt\b", r"\bafter rcpt to\b",
                    r"\bin reply to rcpt to\b", r"did not like our rcpt to\b",
                    r"\brcpt to command\b", r"\brcpt command\b")),
    ("data", _stage(r">>> ?data\b", r"\bsmtp command\W{0,20}data\b", r"\bafter (?:end of )?data\b",
                    r"\bin reply to (?:end of )?data\b", r"did not like our (?:final )?data\b",
                    r"\bfor (?:text|data) command\b", r"\bend of data\b", r"\bdata command\b")),
)


def smtp_stage(text: str) -> str:
    """The SMTP command the failure answered, when the report says (last one named)."""
    best, pos = "", -1
    flat = re.sub(r"[ \t]*\n[ \t]*", " ", text[:8_000])  # "(in reply to RCPT\n    TO command)"
    for name, rx in _STAGES:
        for m in rx.finditer(flat):
            if m.start() > pos:
                best, pos = name, m.start()
    return best


_DNS_TROUBLE = _rx(r"\bname service error\b", r"\bmalformed or unexpected name server",
                   r"\bservfail\b", r"\bdns (?:lookup )?(?:timeout|timed out|temporary)",
                   r"\btemporary (?:dns|lookup) failure", r"\bhost name lookup failure\b")
# What happened on earlier tries, beside the final answer: "Earlier attempts to this
# address were deferred with "451 4.3.0 Temporary lookup failure"". The final answer
# decides; the history is set aside when something is left without it.
_EARLIER = re.compile(
    r"(?:^|(?<=[.\n]))\s*[^.\n]{0,40}\b(?:earlier|previous|prior|former) (?:delivery )?"
    r"(?:attempts?|tries|retries|deliveries)\b[^\n]*", re.I)
# Exchange's expiry with the last answer it had: "550 4.4.7 QUEUE.Expired; message
# expired [LastError = 550 5.1.1 … User unknown]"; the answer is the mailbox's.
_LAST_ERROR = re.compile(r"\b(?:last ?error|last error was|letzter fehler|derni[èe]re erreur)"
                         r"\s*(?:=|:|was)?\s*([^\]\n]{1,300})", re.I)
_EMPTY_SLOT = re.compile(r"\b5\d\d:?[ \t]+:[ \t]+user unknown", re.I)
_DBEB = re.compile(r"recipient address rejected: access denied")
# "550 Unknown user <address>", the phrase before the address: the answer of receive
# filters (NTT DoCoMo's reception refusal, filtering gateways) for live mailboxes. The
# remote's real unknown-user replies name the address first; believed only at RCPT.
_FILTER_UNKNOWN_USER = re.compile(r"\b5\d\d[ -]+'?unknown user\s+<?[^\s@<>]{1,64}@", re.I)
# cPanel's Exim routers print this as their `cannot_route_message`: the recipient's
# domain has no usable MX or A record (or only ones pointing at loopback), so no server
# was ever asked. The "may not exist / may be blacklisted" is the template's guess at a
# cause; the fact is that the domain cannot receive mail. cPanel servers relaying for a
# client answer RCPT with the same words. The same template also explains a failed
# *sender* verification ("Verification failed for <sender> … Sender verify failed"):
# that wording is not hedged, so the policy rule decides it first.
_CANNOT_ROUTE = re.compile(r"\bthe account or domain may not exist, they may be blacklisted,? "
                           r"or missing the proper dns entries")
# Symantec Email Security.cloud (formerly MessageLabs) refuses recipients that are not
# registered for a customer's domain with the non-standard reply "542 <address>
# Rejected" (Sisimai's MessageLabs tables read it as an unknown user). Believed only
# in a report from MessageLabs' own hosts, where that code is theirs.
_MESSAGELABS_542 = re.compile(r"^542[ -]+rejected\.?$")
_MESSAGELABS_HOST = re.compile(r"(?:^|[\s.@;])messagelabs\.com\b")
# "550 <address>: Recipient address rejected." with no reason at all, answered to RCPT:
# the remote refuses this one recipient and names nothing about us.
_BARE_RCPT_REJECT = re.compile(r"^(?:[245]\d\d\b)?[\s<>:;,.\[\]'\"-]*(?:recipient )?"
                               r"(?:address )?rejected\.?$")


@dataclass(frozen=True, slots=True)
class Judgement:
    reason: Reason
    klass: BounceClass
    why: str  # the rule that decided, for the evidence trail


def _reason_from_text(t: str) -> tuple[Reason | None, str]:
    """Ordered rules over cleaned text. Sender-side wording beats mailbox wording."""
    if not t:
        return None, ""
    if _DNS_TROUBLE.search(t) and not _DOMAIN.search(t):
        # A resolver error (SERVFAIL, malformed reply, timeout) is not proof that the
        # domain does not exist: network trouble, soft.
        return "other", "text:dns-error"
    if _FULL.search(t):
        return "mailbox_full", "text:mailbox-full"
    if _TOO_LARGE.search(t):
        return "message_too_large", "text:too-large"
    if _EXPIRED.search(t):
        return "expired", "text:expired"
    if _MAILER.search(t):
        return "other", "text:mailer-error"
    if _SPAM.search(t):
        return "spam_rejected", "text:spam"
    m_pol = _POLICY.search(t)
    # "Recipient address rejected: User unknown" names the recipient; weak words such as
    # "relay" or "denied" only decide when no mailbox wording is present.
    if m_pol and not ((_USER.search(t) or _DOMAIN.search(t))
                      and _soft_policy_word(m_pol.group(0))):
        found = next((m for m in _POLICY.finditer(t) if not _hedged(t, m)), None)
        if found is None and _CANNOT_ROUTE.search(t):
            return "domain_unknown", "text:cannot-route"
        if found is None:
            # "the account or domain may not exist, they may be blacklisted, or …": a list
            # of possibilities is no finding of a block, nor of a dead address. Soft,
            # as a sender-side word always makes it.
            return "other", f"text:hedged({m_pol.group(0).strip()})"
        return "policy_blocked", f"text:policy({found.group(0).strip()})"
    if _MOVED.search(t):
        return "user_unknown", "text:moved"
    m_user = _USER.search(t)
    m_dom = _DOMAIN.search(t)
    if _DISABLED.search(t) and not m_user:
        return "other", "text:disabled"
    # Both kinds of wording: the earlier phrase is the remote side's own answer, the
    # later one usually the reporting MTA's paraphrase.
    if m_user and (not m_dom or m_user.start() <= m_dom.start()):
        return "user_unknown", "text:user-unknown"
    if m_dom:
        return "domain_unknown", "text:domain-unknown"
    return None, ""


_HEDGE = re.compile(r"\b(?:may|might|could|possibly|perhaps|probably)\b")
_CLAUSE_END = re.compile(r"[.;,!?]|\bor\b")


def _hedged(t: str, m: re.Match[str]) -> bool:
    """Whether the clause holding match `m` only supposes it ("… could be blocked")."""
    ends = [e.end() for e in _CLAUSE_END.finditer(t, max(0, m.start() - 80), m.start())]
    start = ends[-1] if ends else max(0, m.start() - 80)
    after = _CLAUSE_END.search(t, m.end())
    return bool(_HEDGE.search(t, start, after.start() if after else len(t)))


# Policy words weak enough that a clear user-unknown phrase beside them wins. Anything
# naming blocklists, reputation, authentication or spam is never weak.
_WEAK_POLICY = re.compile(r"^(?:relay(?:ing)?|denied|not (?:permitted|allowed)|policy|"
                          r"policies|permission|filter|filtered|command.*|protocol|"
                          r"prohibited|access denied|unverified|verif.*)$")


def _soft_policy_word(word: str) -> bool:
    return bool(_WEAK_POLICY.match(word.strip()))


# RFC 3463 subject/detail codes, when the text says nothing usable.
_STATUS_REASON: dict[str, Reason] = {
    "1.0": "user_unknown", "1.1": "user_unknown", "1.2": "domain_unknown",
    "1.3": "user_unknown", "1.4": "other", "1.5": "user_unknown", "1.6": "user_unknown",
    "1.7": "policy_blocked", "1.8": "policy_blocked", "1.9": "other",
    "1.10": "domain_unknown", "2.0": "other", "2.1": "other", "2.2": "mailbox_full",
    "2.3": "message_too_large", "2.4": "other", "3.0": "other", "3.1": "other",
    "3.2": "domain_unknown", "3.3": "other", "3.4": "message_too_large", "3.5": "other",
    "4.0": "other", "4.1": "other", "4.2": "other", "4.3": "other", "4.4": "domain_unknown",
    "4.5": "other", "4.6": "other", "4.7": "expired", "5.0": "other", "6.0": "other",
    "7.0": "policy_blocked", "7.1": "policy_blocked", "7.27": "policy_blocked",
}


def _reason_from_status(status: str) -> Reason | None:
    parts = status.split(".")
    if len(parts) != 3:
        return None
    key = f"{parts[1]}.{parts[2]}"
    if key in _STATUS_REASON:
        return _STATUS_REASON[key]
    if parts[1] == "7":
        return "policy_blocked"
    if parts[1] == "6":
        return "other"
    return None


# Yahoo (and AOL on its servers) refuse an unknown mailbox after DATA, with this text
# and no X.1.x code: "554 delivery error: dd This user doesn't have a yahoo.com account".
_YAHOO_DD_UNKNOWN = re.compile(r"\bdd this user doesn'?t have an? [\w.-]+ account\b")


# A final failure after this many hours of retries: the MTA gave up on a temporary answer.
GAVE_UP_HOURS = 24.0


def judge(status: str, reply_code: str, diagnostic: str, *, delayed: bool = False,
          permanent_hint: bool | None = None, context: str = "", stage: str = "",
          retried_hours: float = 0.0, reporter: str = "") -> Judgement:
    """Reason and hard/soft for one failed recipient.

    `status` is the enhanced code, `reply_code` the SMTP code, `diagnostic` the text the
    remote side or the reporting MTA gave for this recipient; `context` is the report's
    own prose, consulted when `diagnostic` says nothing, and to find a report that
    contradicts itself. `delayed` (Action: delayed, a warning) is never hard: the MTA is
    still trying. `retried_hours`: how long the reporting MTA kept the message before this
    final failure (0 when unknown). `reporter`: the reporting MTA's host names (its
    From domain, Reporting-MTA), lower case, for the few replies whose meaning is a
    vendor's own."""
    t = clean_text(_EARLIER.sub(" ", diagnostic)) or clean_text(diagnostic)
    last = _LAST_ERROR.search(t)
    if last and _EXPIRED.search(t[:last.start()]) and not delayed:
        answer = last.group(1)
        code = find_status(answer)
        said, said_why = _reason_from_text(answer)
        if said is None and code[:1] == "5":
            said, said_why = _reason_from_status(code), f"status:{code}"
        if said in HARD_REASONS and code[:1] == "5" and not code.startswith("5.7."):
            return Judgement(said, "hard", f"{said_why}(last error before expiry)")
    reason, why = _reason_from_text(t)
    if reason == "user_unknown" and _EMPTY_SLOT.search(diagnostic):
        # "550 : User unknown" with the address slot left empty is the answer of a
        # receive filter (KDDI au/ezweb); the real unknown-user reply names the address.
        reason, why = "policy_blocked", "text:filter-empty-address"
    if status == "5.4.1" and _DBEB.search(t):
        # Exchange Online directory-based edge blocking: "550 5.4.1 Recipient address
        # rejected: Access denied" means the address is not in the tenant's directory.
        reason, why = "user_unknown", "text:exchange-online-dbeb"
    if reason == "user_unknown" and stage != "rcpt" and _FILTER_UNKNOWN_USER.search(diagnostic):
        reason, why = "policy_blocked", "text:filter-unknown-user"
    if reason is None and stage == "rcpt" and _BARE_RCPT_REJECT.match(_first_line(t)):
        reason, why = "user_unknown", "text:recipient-rejected-at-rcpt"
    if reason is None and reply_code == "542" and _MESSAGELABS_HOST.search(reporter) and \
            _MESSAGELABS_542.match(_first_line(t)):
        reason, why = "user_unknown", "text:messagelabs-542-rejected"
    if reason is None and context:
        reason, why = _reason_from_text(clean_text(context))
        why = why.replace("text:", "context:") if why else why
    by_status = _reason_from_status(status)
    if reason is None and by_status is not None:
        reason, why = by_status, f"status:{status}"
    elif why == "text:disabled" and by_status in HARD_REASONS:
        # "inactive address" under 5.1.1: the structured code says the mailbox is gone.
        reason, why = by_status, f"status:{status}(text:disabled)"
    if reason is None:
        reason, why = "other", "none"
    # Sender-side classes (5.7.x) override a mailbox-like status: a "5.1.1"-looking
    # code with blocklist text stays soft because the text decided above.
    if status.startswith("5.7.") and reason in HARD_REASONS and why.startswith("status"):
        reason = "policy_blocked"
    if stage in ("connect", "helo", "mail") and reason in HARD_REASONS:
        # Refused before any recipient was named: it is about us, not the mailbox.
        reason, why = "policy_blocked", f"stage:{stage}"
    elif stage == "data" and reason in HARD_REASONS and not _remote_mailbox_code(diagnostic) \
            and not _mailbox_status(status) and not _YAHOO_DD_UNKNOWN.search(t):
        # The server accepted RCPT TO for this address and refused the content. Free
        # text such as "550 Unknown user" at DATA is how some filters answer (DoCoMo,
        # filtering appliances); only an X.1.x code is believed: the remote side's own,
        # or the reporting MTA's Status field (KDDI's au answers DATA with
        # "550 <address>: User unknown" for dead mailboxes and Sendmail writes 5.1.1).
        reason, why = "policy_blocked", f"stage:data({why})"
    if reason in HARD_REASONS and context and not (_FULL.search(t) or _DISABLED.search(t)):
        contra = _contradiction(clean_text(context))
        if contra is not None:
            reason, why = contra[0], f"{why}+{contra[1]}"
    permanent = _permanent(status, reply_code, permanent_hint)
    if not permanent and not delayed and reason == "user_unknown" and \
            retried_hours >= GAVE_UP_HOURS and permanent_hint:
        # A temporary "user unknown" that never changed while the MTA retried for a day
        # or more, until it gave up (a final failure, not a delay warning): in effect a
        # permanent answer about the mailbox. Sender-side refusals never get here (their
        # wording decided the reason above), nor an unknown domain (a day of DNS trouble
        # is possible for a live domain).
        permanent, why = True, f"{why}+gave-up-after-{retried_hours:.0f}h"
    hard = reason in HARD_REASONS and permanent and not delayed
    return Judgement(reason, "hard" if hard else "soft", why)


def _contradiction(prose: str) -> tuple[Reason, str] | None:
    """A report whose own prose gives a cause that presupposes a live mailbox (full,
    disabled, suspended) and never says the mailbox or domain does not exist contradicts
    a recipient line that says it does not (and does not itself name that cause): one of
    the two is wrong, and a wrong hard verdict suppresses a live address for ever, so the
    soft cause wins."""
    if _USER.search(prose) or _DOMAIN.search(prose) or _MOVED.search(prose):
        return None
    if _FULL.search(prose):
        return "mailbox_full", "contradicted-by-report:mailbox-full"
    if _DISABLED.search(prose):
        return "other", "contradicted-by-report:disabled"
    return None


def _mailbox_status(status: str) -> bool:
    return status[:1] == "5" and status.split(".")[1:2] == ["1"]


def _first_line(t: str) -> str:
    return t.split(" (", 1)[0].strip()


def _remote_mailbox_code(diagnostic: str) -> bool:
    code = find_status(diagnostic)
    return code[:1] == "5" and code.split(".")[1:2] == ["1"]


def _permanent(status: str, reply_code: str, hint: bool | None) -> bool:
    if status[:1] == "5":
        return True
    if status[:1] in ("4", "2"):
        return False
    if reply_code[:1] == "5":
        return True
    if reply_code[:1] in ("4", "2"):
        return False
    return bool(hint) if hint is not None else True
