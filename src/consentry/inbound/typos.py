"""Misspelt objection words read as the words: "abmleden", "austragenn", "remoev",
"disicrivermi", "uitschijven".

A typo typed in a hurry on a phone is one slip: a letter dropped (not the last: that is
mostly another form of the word), one doubled, or two neighbours swapped. Only those are
read, only in words of at least six letters, and only where the misspelling cannot also
be a slip for a word that means otherwise or be a word itself: "amelden" is "abmelden"
or "anmelden" with a letter dropped, so it is left as typed. A letter replaced by
another is never read ("anmelden" is one key from "abmelden" and means the opposite).

"unsubscribe" itself, long and the word most often misspelt, may have two slips.

`repair(text)` returns the text with each such slip replaced by its word (the rest of a
word built on a stem kept: "disicrivermi" -> "disiscrivermi"), and the pairs replaced.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

__all__ = ["repair"]

# The objection words the phrase lists are built on, as written (whole words).
_WORDS = (
    # en
    "unsubscribe", "remove",
    # de
    "abmelden", "abmeldung", "abbestellen", "abbestellung", "austragen", "rausnehmen",
    "herausnehmen", "entfernen", "widerspreche", "widerspruch",
    # nl
    "uitschrijven", "afmelden", "verwijder", "verwijderen",
    # it
    "cancellami", "cancellatemi", "rimuovetemi", "rimuovere",
    # pl
    "wypisać", "wypiszcie", "wypisanie", "rezygnuję",
    # da, no, sv
    "afmelde", "afmeldt", "afmelding", "avmelde",
)
# Stems the lists match as the start of a word (the rest of the word is kept).
_STEMS = ("désinscri", "désabonn", "disiscri", "desuscrib", "avregistrer", "descadastr",
          "avprenumerer", "leiratkoz", "dezabona")
# Words one slip away from which a misspelling means something else, or is a word.
_OTHER = (
    "anmelden", "anmeldung", "angemeldet", "bestellen", "bestellung", "eintragen",
    "ausragen", "subscribe", "aanmelden", "inschrijven", "verwijderd",
    "iscrivere", "iscrivermi", "iscriviti", "inscrire", "abonner", "abonnieren",
    "tilmelde", "tilmelding", "removed", "remover", "removes",
)
_MIN = 6


def _fold(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", s.lower())
                   if not unicodedata.combining(c))


def _slips(w: str) -> set[str]:
    # a letter dropped, but never the last: "abmelde", "verwijde", "remov" are another
    # form of the word, or the start of one ("wenn ich mich abmelde" is no request)
    out = {w[:i] + w[i + 1:] for i in range(len(w) - 1)}
    out |= {w[:i] + w[i + 1] + w[i] + w[i + 2:] for i in range(len(w) - 1)}  # swapped
    out |= {w[:i] + w[i] + w[i:] for i in range(len(w))}  # doubled
    out.discard(w)
    return out


def _table(words: Iterable[str], blocked: set[str]) -> dict[str, str]:
    table: dict[str, str] = {}
    clash: set[str] = set()
    for word in words:
        for slip in _slips(_fold(word)):
            if slip in table and table[slip] != word:
                clash.add(slip)
            table[slip] = word
    return {k: v for k, v in table.items() if k not in clash and k not in blocked}


_FOLDED = {_fold(w) for w in (*_WORDS, *_STEMS, *_OTHER)}
_BLOCKED = _FOLDED | {s for w in _OTHER for s in _slips(_fold(w))}
_WHOLE = _table(_WORDS, _BLOCKED)
_PREFIX = _table(_STEMS, _BLOCKED)
_PREFIX_LENGTHS = sorted({len(k) for k in _PREFIX}, reverse=True)
_STEM_FOLDED = tuple(_fold(s) for s in _STEMS)
# The first letters slips can start with: a cheap first filter.
_FIRST = {k[:1] for k in (*_WHOLE, *_PREFIX)}
_WORD = re.compile(rf"[^\W\d_]{{{_MIN - 1},}}")


def _read(word: str) -> str | None:
    f = _fold(word)
    if f[:1] not in _FIRST or f in _FOLDED:
        return None
    hit = _WHOLE.get(f)
    if hit is not None:
        return hit
    if f.startswith(_STEM_FOLDED):
        return None  # the stem itself, and every word built on it
    for n in _PREFIX_LENGTHS:
        stem = _PREFIX.get(f[:n]) if len(f) >= n else None
        if stem is not None:
            return stem + f[n:]
    return None


# "unsubscribe", the word most often misspelt, is long enough for two slips
# ("unsubcribe", "unsuscribe", "unsubscibe", "un-subscibe").
_UNSUB_LIKE = re.compile(r"\bun-?s[a-z]{5,10}\b", re.I)


def _unsubscribe(w: str) -> str | None:
    low = w.lower().replace("-", "")
    if low.startswith("unsubscri"):
        return None  # the word itself and its forms (unsubscribed, unsubscription)
    return "unsubscribe" if difflib.SequenceMatcher(None, low, "unsubscribe").ratio() >= 0.85 \
        else None


# Spellings by ear of the objection vocabulary's words, as learners and people unused to
# writing type them ("bite nich mer schiken", "pleace remuve my email", "i not want
# recive"): whole words only. Each is no word of its own in the languages read, or one
# that forms no objection phrase where it stands; "mer" only after "nich(t)" or "kein(e)"
# (alone it is Swedish and Norwegian for "more").
_BY_EAR = {
    "nich": "nicht", "nichd": "nicht", "nix": "nichts", "nich mer": "nicht mehr",
    "nicht mer": "nicht mehr", "kein mer": "kein mehr", "keine mer": "keine mehr",
    "schiken": "schicken", "schigen": "schicken", "bite": "bitte",
    "bitt": "bitte", "abmelten": "abmelden", "ausdragen": "austragen", "löschn": "löschen",
    "loschen": "löschen", "bekomen": "bekommen", "adrese": "adresse", "adreße": "adresse",
    "remuve": "remove", "remoove": "remove", "rimove": "remove", "pleace": "please",
    "plese": "please", "pleas": "please", "recive": "receive", "recieve": "receive",
    "resive": "receive", "emial": "email", "imail": "email", "e-mal": "e-mail",
    # chat shorthand: "plz rmv me from ur list thx"
    "plz": "please", "pls": "please", "rmv": "remove", "from ur": "from your",
    "of ur": "of your", "on ur": "on your", "to ur": "to your", "in ur": "in your",
    # German dialects typed as spoken (Bavarian, Austrian, Swabian, Swiss, Saxon, Kölsch,
    # Hessian, Berlin, Low German): only forms no other language writes
    "nimma": "nicht mehr", "nemme": "nicht mehr", "nümme": "nicht mehr", "nüme": "nicht mehr",
    "nix mih": "nichts mehr", "nix meh": "nichts mehr", "nüt meh": "nichts mehr",
    "nüd meh": "nichts mehr", "nix mea": "nichts mehr", "nischt mehr": "nichts mehr",
    "nüscht mehr": "nichts mehr", "net mehr": "nicht mehr", "ned mehr": "nicht mehr",
    "nimmer": "nicht mehr", "nich mehr": "nicht mehr", "nicht meh": "nicht mehr",
    "keene": "keine", "koane": "keine", "koine": "keine", "keini": "keine",
    "kaa": "kein", "koa": "kein",
    "angebode": "angebote", "mäils": "mails", "mäil": "mail", "mejls": "mails",
    "schickt's": "schickt", "schickts": "schickt", "schiggd": "schickt", "schigge": "schicken",
    "schrievt": "schreibt", "schriewt": "schreibt",
    "bittschön": "bitte", "bittschee": "bitte", "bittscheen": "bitte", "bidde": "bitte",
    "bitteschön": "bitte",
    "abgmäldet": "abgemeldet", "abgmeldet": "abgemeldet", "abmälde": "abmelden",
    "löschet": "löscht", "lösched": "löscht", "löschts": "löscht", "lesche": "löschen",
    "adrässe": "adresse", "adressa": "adressen", "adresss": "adresse",
    "mini adrässe": "meine adresse", "mini adress": "meine adresse",
    "mien adress": "meine adresse",
    "ming adress": "meine adresse", "mei adress": "meine adresse",
    "dragt's": "tragt", "tragt's": "tragt", "dragts": "tragt", "dragt": "tragt",
    "austragn": "austragen", "ausdragn": "austragen",
    "listn": "liste", "lischt": "liste", "lischte": "liste", "lischd": "liste",
    "verteila": "verteiler",
    "verdeiler": "verteiler", "verdeila": "verteiler",
    "eich": "euch", "eire": "eure", "eirer": "eurer", "ahna": "ihnen",
    "usem": "aus dem", "ut jo": "aus eurer", "ut de": "aus der",
    "nehmt ma": "nehmt mal", "schickt ma": "schickt mir", "schickt mi": "schickt mir",
    "tun se mich": "nehmen sie mich", "mach mich do mol raus": "nehmt mich raus",
    "loss mich en rauh": "lasst mich in ruhe", "strieken": "streichen",
    "wü kane": "will keine", "wellet koine": "wollen keine", "will's au nemme": "will nichts mehr",
    "hörts auf": "hört auf", "heerts auf": "hört auf", "schickt's ma": "schickt mir",
    "schaffet se mi": "nehmen sie mich", "schafft mi": "nehmt mich", "mails meh": "mails mehr",
    "mail meh": "mail mehr", "schicke.": "schicken.",
    # French SMS: "jvx pu rien recevoir"
    "jvx pu": "je veux plus", "jveux pu": "je veux plus", "j'veux pu": "je veux plus",
    "jvx plus": "je veux plus",
    # Portuguese typed by ear: "reseber", "me removao"
    "reseber": "receber", "resceber": "receber", "removao": "removam",
}
_BY_EAR_WORD = re.compile(r"(?<![\w-])(?:" + "|".join(
    sorted(map(re.escape, _BY_EAR), key=len, reverse=True)) + r")(?![\w-])", re.I)


def repair(text: str) -> tuple[str, list[tuple[str, str]]]:
    """`text` with each misspelt objection word read as the word; the (typo, word) pairs."""
    found: list[tuple[str, str]] = []

    def unsub(m: re.Match[str]) -> str:
        r = _unsubscribe(m.group(0))
        if r is None:
            return m.group(0)
        found.append((m.group(0), r))
        return r

    text = _UNSUB_LIKE.sub(unsub, text)

    def by_ear(m: re.Match[str]) -> str:
        r = _BY_EAR[m.group(0).lower()]
        found.append((m.group(0), r))
        return r

    text = _BY_EAR_WORD.sub(by_ear, text)

    def sub(m: re.Match[str]) -> str:
        w = m.group(0)
        if len(w) < _MIN - 1:
            return w
        r = _read(w)
        if r is None:
            return w
        found.append((w, r))
        return r

    return _WORD.sub(sub, text), found
