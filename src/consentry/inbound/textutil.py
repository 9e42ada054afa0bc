"""Small text helpers shared by the detectors (pure, bounded, no backtracking traps)."""

from __future__ import annotations

import re
import unicodedata

from .parse import Headers, Parsed, parse_header_block

# An address as it appears in report text, internationalised ones too (RFC 6531/6533:
# "jürgen@example.de", "ana@bücher.example"): letters and digits of any script where
# ASCII has them. Bounded repetition keeps it linear; the look-behind stops matching in
# the middle of a longer token.
ADDR_RE = re.compile(
    r"(?<![\w.!#$%&'*+/=?^`{|}~-])"
    r"([\w!#$%&'*+/=?^`{|}~-]{1,64}(?:\.[\w!#$%&'*+/=?^`{|}~-]{1,64}){0,20}"
    r"@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.){1,10}[^\W\d_][\w-]{0,62})"
    r"(?![\w-]|\.\w)"
)
# RFC 6533 §3's utf-8-address escapes: "\x{FC}" for "ü".
_UTF8_ESCAPE = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")

_ANGLE = re.compile(r"<([^<>\s]{1,256}@[^<>\s]{1,256})>")

# Lines where a returned or quoted original starts inside a plain-text report. Beyond
# them nothing is report text (it is the original sender's own message).
ORIGINAL_MARKER = re.compile(
    r"^[ \t>]*(?:"
    r"-{2,}[ \t]*(?:this is a copy of|below this line is a copy|original message|"
    r"the header of the original|start of returned|begin (?:returned|original)|"
    r"unsent message|returned message|forwarded message|message headers|"
    r"original message headers|header of original|the original message)"
    r"|(?:original message follows|message headers follow|below is a copy of the "
    r"original message|the original message (?:headers )?(?:is|are|was) (?:attached|"
    r"included|below|as follows)|a copy of the original message (?:is )?below|"
    r"original message headers?:?$|the header of the original message|original message:?[ \t]*$)"
    r"|(?:return-path|received|dkim-signature|x-received|arc-seal|message-id)[ \t]*:"
    r")",
    re.I | re.M,
)


def cut_original(text: str) -> str:
    """The report's own text: everything before a returned original starts."""
    m = ORIGINAL_MARKER.search(text)
    return text[: m.start()] if m else text


def unquote(text: str) -> str:
    """Remove ``>`` quoting (a bounce forwarded by a person, or quoted in a reply)."""
    return re.sub(r"(?m)^(?:[ \t]*>)+[ \t]?", "", text)


def inline_original(text: str) -> Headers:
    """Header fields of an original pasted into a plain-text report after a marker."""
    m = ORIGINAL_MARKER.search(text)
    if m is None:
        return Headers()
    rest = text[m.start():]
    first_nl = rest.find("\n")
    marker_line = rest[: first_nl if first_nl >= 0 else len(rest)]
    if not re.match(r"^[ \t>]*[\w-]+[ \t]*:", marker_line) or marker_line.lower().lstrip(
        " \t>"
    ).startswith("original message"):
        rest = rest[first_nl + 1:] if first_nl >= 0 else ""
    return parse_header_block(rest.lstrip("\n")[:65_536])


def addresses_in(text: str) -> list[str]:
    return [m.group(1) for m in ADDR_RE.finditer(text)]


def header_addresses(value: str | None) -> list[str]:
    if not value:
        return []
    return addresses_in(value)


def norm(addr: str) -> str:
    return unicodedata.normalize("NFC", addr.strip().strip("<>").strip()).lower()


def _unescape(m: re.Match[str]) -> str:
    n = int(m.group(1), 16)
    return chr(n) if 0x80 <= n <= 0x10FFFF and not 0xD800 <= n <= 0xDFFF else m.group(0)


def first_address(value: str | None) -> str | None:
    """The address in a field like ``rfc822; a@b`` or ``Name <a@b>``."""
    if not value:
        return None
    v = value
    if ";" in v.split("@", 1)[0]:
        kind, v = v.split(";", 1)
        if kind.strip().lower() == "utf-8" and "\\x{" in v:
            v = _UTF8_ESCAPE.sub(_unescape, v)
    m = _ANGLE.search(v)
    if m:
        cand = ADDR_RE.search(m.group(1))
        if cand:
            return cand.group(1)
    cand = ADDR_RE.search(v)
    return cand.group(1) if cand else None


def report_texts(msg: Parsed, cut: bool = True) -> list[str]:
    """Human-readable report text of a message: its own text parts (not the returned
    original, not machine-readable report parts), cut at a returned original."""
    out: list[str] = []
    for p in msg.report_parts():
        if not p.ctype.startswith("text/") or p.ctype in ("text/rfc822-headers",
                                                          "text/global-headers"):
            continue
        if p.filename and p.ctype != "text/plain":
            continue
        text = p.text
        if p.ctype == "text/html" and any(
            q.ctype == "text/plain" and not q.in_original for q in msg.parts
        ):
            continue
        if p.ctype == "text/html":
            text = html_to_text(text)
        out.append(cut_original(text) if cut else text)
    return out


_TAG = re.compile(r"<(?:script|style)\b[^>]{0,200}>.{0,20000}?</(?:script|style)>|<[^>]{0,2000}>",
                  re.I | re.S)
_BREAK = re.compile(r"<\s*(?:br|/p|/div|/tr|/li|/h\d|p|div|tr|li)\b[^>]{0,200}>", re.I)
_ENTITY = {"&nbsp;": " ", "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"',
           "&#39;": "'", "&apos;": "'"}


def html_to_text(html: str) -> str:
    t = _BREAK.sub("\n", html)
    t = _TAG.sub("", t)
    for k, v in _ENTITY.items():
        t = t.replace(k, v)
    t = re.sub(r"&#(\d{1,6});", lambda m: chr(int(m.group(1))) if int(m.group(1)) < 0x110000
               else " ", t)
    return re.sub(r"[ \t\xa0]+", " ", t)


def message_ids(headers: Headers) -> set[str]:
    out: set[str] = set()
    for name in ("message-id", "references", "in-reply-to", "resent-message-id"):
        for v in headers.all(name):
            for m in re.finditer(r"<([^<>\s]{1,300})>", v):
                out.add(m.group(1).lower())
            for a in addresses_in(v):
                out.add(a.lower())
    return out
