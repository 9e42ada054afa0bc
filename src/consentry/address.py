"""Envelope address canonicalisation: one function for every suppression read and write.

Fail safe means over-suppress, never under: two spellings that a mailbox provider may
deliver to the same mailbox must map to the same key. So the key is built from
  - the domain: IDNA A-label (UTS 46), lower case, no trailing dot;
  - the local part: quotes removed where the quoted form is equivalent to an atom,
    NFC for SMTPUTF8, case-folded (configurable), and a plus-tag (``max+news``) cut
    off so an objection for ``max@x.de`` also stops ``max+news@x.de``.
Source routes (``@a,@b:user@d``, RFC 5321 §4.1.2, obsolete) are stripped.
Addresses always come from the SMTP envelope, never from header parsing
(CPython CVE-2023-27043 shows how header parsers can be tricked).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .errors import InvalidAddress

# C0, DEL and C1 controls, Unicode line/paragraph separators and bidi controls: no
# mailbox has them, and each can forge or reorder a log line or a terminal view of one
# (RFC 5198 Net-Unicode excludes the controls).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e"
                      r"\u2066-\u2069]")
# Lone surrogates: aiosmtpd decodes SMTPUTF8 arguments with surrogateescape, so bytes
# that are not UTF-8 arrive as U+DC80..U+DCFF. Not an address (and not encodable).
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# What may stand in an unquoted local part: atext and dots (RFC 5321 Dot-string; runs of
# dots tolerated as real mailboxes have them). Anything else must be quoted, or a later
# parser may read it differently: aiosmtplib re-parses every address with
# email.utils.parseaddr, which turns "a(b)@x" into a@x and "a<b@x" into b@x.
_UNQUOTED_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-.\u0080-\ud7ff\ue000-\U0010ffff]+$")
# RFC 5322 atext: what may stand in a dot-atom without quotes.
_ATEXT = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+$")
_LDH_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SOURCE_ROUTE = re.compile(r"^@[^:]*:")

MAX_LOCAL = 64
MAX_DOMAIN = 255
MAX_PATH = 256


@dataclass(frozen=True, slots=True)
class Address:
    """An envelope address. `raw` is what the client sent (used for delivery);
    `canonical` is the normalised full address; `key` is what suppressions are keyed on."""

    raw: str
    canonical: str
    key: str

    @property
    def domain(self) -> str:
        return self.canonical.rpartition("@")[2]

    @property
    def local(self) -> str:
        return self.canonical.rpartition("@")[0]


def _unquote_local(local: str) -> str:
    if len(local) >= 2 and local[0] == '"' and local[-1] == '"':
        inner = local[1:-1]
        out: list[str] = []
        i = 0
        while i < len(inner):
            ch = inner[i]
            if ch == "\\":
                if i + 1 >= len(inner):
                    raise InvalidAddress("dangling backslash in quoted local part")
                out.append(inner[i + 1])
                i += 2
                continue
            if ch == '"':
                raise InvalidAddress("unescaped quote in quoted local part")
            out.append(ch)
            i += 1
        return "".join(out)
    if '"' in local or "\\" in local:
        raise InvalidAddress("quote or backslash outside a quoted local part")
    return local


def _is_dot_atom(local: str) -> bool:
    return all(part and _ATEXT.match(part) for part in local.split("."))


def _fold_label(label: str) -> str:
    """NFKC + case fold before IDNA, as UTS 46 maps labels: Python's idna codec applies
    IDNA 2003's nameprep (Unicode 3.2), which leaves later letters alone, so U+1C80 (a
    rounded ve) and the В its upper case is would get two A-labels where resolvers see one
    domain (xn--b1a): two keys for one mailbox."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", label).casefold())


def canonical_domain(domain: str) -> str:
    d = unicodedata.normalize("NFC", domain.strip()).rstrip(".")
    if not d:
        raise InvalidAddress("empty domain")
    if d.startswith("[") and d.endswith("]"):
        # Address literal: keep as is, lower-cased (IPv6: tags are case-insensitive).
        return d.lower()
    try:
        labels = [_fold_label(lab).encode("idna").decode("ascii") if not lab.isascii()
                  else lab for lab in d.split(".")]
    except UnicodeError as exc:
        raise InvalidAddress(f"domain is not valid IDNA: {exc}") from None
    ascii_domain = ".".join(labels).lower()
    if len(ascii_domain) > MAX_DOMAIN:
        raise InvalidAddress("domain longer than 255 octets")
    for lab in ascii_domain.split("."):
        if not _LDH_LABEL.match(lab) and not (lab.startswith("_") and lab[1:].isalnum()):
            raise InvalidAddress(f"invalid domain label {lab!r}")
    return ascii_domain


def parse(raw: str, *, fold_case: bool = True, plus_separators: str = "+") -> Address:
    """Canonicalise one envelope address (without angle brackets) or raise InvalidAddress."""
    if not isinstance(raw, str) or not raw:
        raise InvalidAddress("empty address")
    if _CONTROL.search(raw):
        raise InvalidAddress("control character in address")
    if _SURROGATE.search(raw):
        raise InvalidAddress("address is not valid UTF-8")
    if len(raw.encode("utf-8")) > MAX_PATH:
        raise InvalidAddress("address longer than 256 octets")
    # ASCII blanks only: str.strip() also removes U+00A0 and other Unicode spaces, which
    # may stand unquoted in an SMTPUTF8 local part, so the canonical form of
    # "\u00a0x"@d (\u00a0x@d) would have re-parsed as x@d: another mailbox, another key.
    addr = raw.strip(" \t")
    if addr.startswith("<") and addr.endswith(">"):
        addr = addr[1:-1]
    addr = _SOURCE_ROUTE.sub("", addr)
    local, at, domain = addr.rpartition("@")
    if not at or not local:
        raise InvalidAddress("address needs local-part@domain")
    if not local.startswith('"') and not _UNQUOTED_LOCAL.match(local):
        raise InvalidAddress("special characters in a local part must be quoted")
    local = unicodedata.normalize("NFC", _unquote_local(local))
    if not local:
        raise InvalidAddress("empty local part")
    if len(local.encode("utf-8")) > MAX_LOCAL:
        raise InvalidAddress("local part longer than 64 octets")
    dom = canonical_domain(domain)
    if fold_case:
        # Unicode canonical caseless match (NFD, then fold), recomposed to NFC: folding
        # alone can leave a decomposed string ("ß́" folds to "ss" + U+0301), which is a
        # different key from its precomposed twin "sś".
        local = unicodedata.normalize(
            "NFC", unicodedata.normalize("NFD", local).casefold())
    if len(local.encode("utf-8")) > MAX_LOCAL:
        # case folding can lengthen it ("ŉ", 2 octets, folds to "ʼn", 3)
        raise InvalidAddress("local part longer than 64 octets")
    display_local = local if _is_dot_atom(local) else '"' + local.replace("\\", "\\\\").replace(
        '"', '\\"') + '"'
    canonical = f"{display_local}@{dom}"
    if len(canonical.encode("utf-8")) > MAX_PATH:
        # IDNA makes a domain longer (ʞ, 2 octets in UTF-8, is part of an xn-- label):
        # the path limit holds for the form that is sent and stored, not only the raw one
        raise InvalidAddress("address longer than 256 octets")
    key_local = local
    for sep in plus_separators:
        head, found, _tag = key_local.partition(sep)
        if found and head:
            key_local = head
    key = f"{key_local}@{dom}"
    return Address(raw=raw, canonical=canonical, key=key)


def is_relay_hack(raw: str) -> bool:
    """Forms open-relay probes use to smuggle a second hop: ``a%b@c``, ``b!a@c``,
    source routes, and quoted addresses holding another ``@``."""
    addr = raw.strip().strip("<>")
    if _SOURCE_ROUTE.match(addr):
        return True
    local = addr.rpartition("@")[0]
    return "%" in local or "!" in local or "@" in local
