"""Tracking consent (SPEC §1.6: "sending yes, tracking without consent no"): remove
open-tracking pixels and unwrap click-tracking redirects in HTML parts. Pure.

Only the tags concerned change; the rest of the HTML, the MIME structure, charsets and
transfer encodings stay as they were (mimewalk). Every removal is reported so the
decision log can say what was taken out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlsplit

from . import mimewalk
from .rawmsg import RawMessage

_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
# CSS images (style attributes, <style> blocks, background="..."): read-time trackers use
# them where <img> pixels are known and blocked.
_CSS_URL = re.compile(r"""url\(\s*(?:&quot;|["']?)\s*(https?://[^)"'\s]+?)\s*(?:&quot;|["']?)\s*\)""",
                      re.IGNORECASE)
_BG_ATTR = re.compile(r"""(\sbackground\s*=\s*)(["'])(https?://[^"']*)\2""", re.IGNORECASE)
_A = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")
_PX = re.compile(r"^\s*([01])(?:\.0*)?\s*(?:px)?\s*$", re.IGNORECASE)
_STYLE_W = re.compile(r"(?:^|;)\s*(?:max-)?width\s*:\s*([01])(?:\.0*)?(?:px)?\s*(?:;|$)", re.I)
_STYLE_H = re.compile(r"(?:^|;)\s*(?:max-)?height\s*:\s*([01])(?:\.0*)?(?:px)?\s*(?:;|$)", re.I)
MAX_LOGGED = 50


@dataclass(frozen=True, slots=True)
class Removal:
    kind: str  # "pixel" | "unwrapped" | "kept-unresolvable"
    url: str
    target: str | None = None

    def as_log(self) -> dict[str, str]:
        d = {"kind": self.kind, "url": self.url[:200]}
        if self.target:
            d["target"] = self.target[:200]
        return d


@dataclass(frozen=True)
class TrackingRules:
    hosts: tuple[str, ...] = ()
    redirect_params: tuple[str, ...] = ("url", "u", "redirect", "target")
    redirect_patterns: tuple[re.Pattern[str], ...] = ()
    strip_tiny_images: bool = True

    @classmethod
    def build(cls, hosts: Sequence[str], params: Sequence[str], patterns: Sequence[str],
              strip_tiny: bool) -> TrackingRules:
        return cls(tuple(h.lower().lstrip("*") for h in hosts), tuple(params),
                   tuple(re.compile(p) for p in patterns), strip_tiny)

    def is_tracking_host(self, host: str) -> bool:
        h = host.lower().rstrip(".")
        for t in self.hosts:
            if t.startswith("."):
                if h.endswith(t) or h == t[1:]:
                    return True
            elif h == t:
                return True
        return False


@dataclass(slots=True)
class StripResult:
    message: RawMessage
    removals: list[Removal] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(r.kind != "kept-unresolvable" for r in self.removals)


def _attrs(tag: str) -> dict[str, tuple[str, int, int]]:
    """name -> (unescaped value, start, end of the raw value in the tag)."""
    out: dict[str, tuple[str, int, int]] = {}
    inner_start = tag.find(" ")
    if inner_start == -1:
        return out
    for m in _ATTR.finditer(tag, inner_start):
        if m.group(2) is None:
            continue
        raw = m.group(2)
        start, end = m.start(2), m.end(2)
        if raw[:1] in "\"'":
            raw, start, end = raw[1:-1], start + 1, end - 1
        out.setdefault(m.group(1).lower(), (html.unescape(raw), start, end))
    return out


def _host(url: str) -> str:
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""


def _is_tiny(a: dict[str, tuple[str, int, int]]) -> bool:
    w, h = a.get("width"), a.get("height")
    if w and h and _PX.match(w[0]) and _PX.match(h[0]):
        return True
    style = a.get("style", ("", 0, 0))[0]
    return bool(_STYLE_W.search(style) and _STYLE_H.search(style))


def _safe_target(target: str) -> str | None:
    t = target.strip()
    if not re.match(r"^(?:https?://|mailto:)", t, re.IGNORECASE):
        return None
    # The target goes back into an attribute of a possibly 7-bit part: ASCII only.
    return quote(t, safe="".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "\"'<> "))


class Stripper:
    def __init__(self, rules: TrackingRules) -> None:
        self.rules = rules
        self.removals: list[Removal] = []

    def target_of(self, url: str) -> str | None:
        for rx in self.rules.redirect_patterns:
            m = rx.search(url)
            if m:
                return _safe_target(m.group("target"))
        try:
            query = urlsplit(url).query
        except ValueError:
            return None
        params = dict(parse_qsl(query, keep_blank_values=False))
        for p in self.rules.redirect_params:
            v = params.get(p)
            if v:
                t = _safe_target(v)
                if t:
                    return t
        return None

    def _img(self, m: re.Match[str]) -> str:
        tag = m.group(0)
        a = _attrs(tag)
        src = a.get("src", ("", 0, 0))[0].strip()
        if not src.lower().startswith(("http://", "https://", "//")):
            return tag  # cid: and data: images never phone home
        if self.rules.is_tracking_host(_host(src if not src.startswith("//") else "x:" + src)) \
                or (self.rules.strip_tiny_images and _is_tiny(a)):
            self.removals.append(Removal("pixel", src))
            return ""
        return tag

    def _a(self, m: re.Match[str]) -> str:
        tag = m.group(0)
        a = _attrs(tag)
        href = a.get("href")
        if href is None:
            return tag
        url = href[0].strip()
        matched = any(rx.search(url) for rx in self.rules.redirect_patterns)
        if not matched and not self.rules.is_tracking_host(_host(url)):
            return tag
        target = self.target_of(url)
        if target is None:
            self.removals.append(Removal("kept-unresolvable", url))
            return tag
        self.removals.append(Removal("unwrapped", url, target))
        return tag[: href[1]] + html.escape(target, quote=True) + tag[href[2] :]

    def _css(self, m: re.Match[str]) -> str:
        url = html.unescape(m.group(1))
        if self.rules.is_tracking_host(_host(url)):
            self.removals.append(Removal("pixel", url))
            return "none"
        return m.group(0)

    def _bg(self, m: re.Match[str]) -> str:
        url = html.unescape(m.group(3))
        if self.rules.is_tracking_host(_host(url)):
            self.removals.append(Removal("pixel", url))
            return ""
        return m.group(0)

    def html(self, _ctype: str, text: str) -> str | None:
        new = _A.sub(self._a, _IMG.sub(self._img, text))
        if self.rules.hosts:
            new = _BG_ATTR.sub(self._bg, _CSS_URL.sub(self._css, new))
        return new if new != text else None


def strip(msg: RawMessage, rules: TrackingRules) -> StripResult:
    """The message with tracking removed from its HTML parts (bytes unchanged if none)."""
    s = Stripper(rules)
    heads = {f.lname: f.value() for f in reversed(msg.fields)}
    body, report = mimewalk.walk(heads, msg.body, s.html)
    if not report.changed:
        return StripResult(msg, s.removals, report.skipped)
    return StripResult(RawMessage(msg.fields, msg.separator, body), s.removals, report.skipped)


def has_optout(msg: RawMessage, pattern: re.Pattern[str]) -> bool:
    """Footer check: does any text part mention a way out (link text or words)?"""
    found = False

    def look(_ctype: str, text: str) -> None:
        nonlocal found
        if not found and pattern.search(html.unescape(text)):
            found = True
        return None

    heads = {f.lname: f.value() for f in reversed(msg.fields)}
    mimewalk.walk(heads, msg.body, look, frozenset({"text/html", "text/plain"}))
    return found
