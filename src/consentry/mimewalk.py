"""Byte-level MIME walker: visit every text leaf part decoded, rewrite only the parts the
visitor changes, and leave every other byte — boundaries, preambles, part headers, other
parts — exactly as the client sent it.

A changed part keeps its charset and its Content-Transfer-Encoding (quoted-printable
stays quoted-printable, base64 stays base64). A part that cannot be decoded or
re-encoded in its declared charset is left untouched and reported (`Skipped`), never
mangled. Nesting and part counts are capped before any work (RELIABILITY H9).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_DEPTH = 30
MAX_PARTS = 1000

_PARAM = re.compile(r';\s*([A-Za-z0-9!#$%&\'*+.^_`|~\-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]+)')

# visitor(content_type, text) -> new text, or None to leave the part alone
Visitor = Callable[[str, str], str | None]


@dataclass(slots=True)
class WalkReport:
    visited: int = 0
    changed: int = 0
    skipped: list[str] = field(default_factory=list)


def _unfold(value: bytes) -> str:
    return re.sub(rb"\r\n(?=[ \t])", b"", value).decode("ascii", "replace").strip()


def _headers(head: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in re.finditer(rb"(?m)^([!-9;-~]+):([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head):
        name = m.group(1).decode("ascii").lower()
        out.setdefault(name, _unfold(m.group(2)))
    return out


def content_type(value: str | None) -> tuple[str, dict[str, str]]:
    if not value:
        return "text/plain", {}
    main = value.split(";", 1)[0].strip().lower() or "text/plain"
    params: dict[str, str] = {}
    for m in _PARAM.finditer(value):
        v = m.group(2)
        if v.startswith('"'):
            v = re.sub(r"\\(.)", r"\1", v[1:-1])
        params.setdefault(m.group(1).lower(), v)
    return main, params


def _split_part(data: bytes) -> tuple[bytes, bytes, bytes]:
    """head (with its final CRLF), separator, body of a body part."""
    if data.startswith(b"\r\n"):
        return b"", b"\r\n", data[2:]
    end = data.find(b"\r\n\r\n")
    if end == -1:
        return data, b"", b""
    return data[: end + 2], b"\r\n", data[end + 4 :]


def _python_codec(charset: str | None) -> str | None:
    """Python's text codec for a MIME charset, or None. A charset parameter is the
    sender's word: "rot13" and "base64" are codecs but no text encodings (bytes.decode
    raises LookupError for them), and a NUL in the name raises ValueError."""
    cs = (charset or "us-ascii").strip().lower()
    try:
        name = codecs.lookup(cs).name
        b"a".decode(name, "replace")
    except (LookupError, ValueError):
        return None
    return name


def _decode_cte(body: bytes, cte: str) -> bytes | None:
    try:
        if cte == "base64":
            return base64.b64decode(re.sub(rb"[^A-Za-z0-9+/=]", b"", body), validate=False)
        if cte == "quoted-printable":
            return quopri.decodestring(body)
    except (binascii.Error, ValueError):
        return None
    return body


def _encode_cte(data: bytes, cte: str, like: bytes) -> bytes:
    if cte == "base64":
        out = base64.encodebytes(data).replace(b"\n", b"\r\n")
    elif cte == "quoted-printable":
        lf = data.replace(b"\r\n", b"\n")
        out = quopri.encodestring(lf, quotetabs=False).replace(b"\n", b"\r\n")
    else:
        out = data
    # Keep the part's last-line habit: the CRLF before a boundary belongs to the boundary.
    if like.endswith(b"\r\n") and not out.endswith(b"\r\n"):
        out += b"\r\n"
    elif not like.endswith(b"\r\n") and out.endswith(b"\r\n"):
        out = out[:-2]
    return out


class Walker:
    def __init__(self, visitor: Visitor, types: frozenset[str]) -> None:
        self.visitor = visitor
        self.types = types
        self.report = WalkReport()
        self._parts = 0

    def body(self, headers: dict[str, str], body: bytes, depth: int = 0) -> bytes:
        """Return the (possibly rewritten) body of an entity with these headers."""
        self._parts += 1
        if depth > MAX_DEPTH or self._parts > MAX_PARTS:
            self.report.skipped.append("nesting or part limit reached")
            return body
        ctype, params = content_type(headers.get("content-type"))
        if ctype.startswith("multipart/"):
            boundary = params.get("boundary")
            if not boundary:
                self.report.skipped.append(f"{ctype} without boundary")
                return body
            return self._multipart(body, boundary, depth)
        if ctype not in self.types:
            return body
        return self._leaf(ctype, params, headers, body)

    def _multipart(self, body: bytes, boundary: str, depth: int) -> bytes:
        b = re.escape(boundary.encode("ascii", "replace"))
        delim = re.compile(rb"(?:^|\r\n)--" + b + rb"(--)?[ \t]*(?=\r\n|$)")
        out: list[bytes] = []
        pos = 0
        part_start: int | None = None
        for m in delim.finditer(body):
            if part_start is None:
                out.append(body[pos : m.start()])  # preamble
            else:
                out.append(self._part(body[part_start : m.start()], depth))
            out.append(m.group(0))
            if m.group(1):  # closing delimiter: the rest is the epilogue
                out.append(body[m.end() :])
                return b"".join(out)
            # the part starts after the CRLF that ends the delimiter line
            part_start = m.end() + 2 if body[m.end() : m.end() + 2] == b"\r\n" else m.end()
            out.append(body[m.end() : part_start])
        if part_start is None:
            return body
        out.append(self._part(body[part_start:], depth))  # unterminated: keep the last part
        return b"".join(out)

    def _part(self, data: bytes, depth: int) -> bytes:
        head, sep, body = _split_part(data)
        return head + sep + self.body(_headers(head), body, depth + 1)

    def _leaf(self, ctype: str, params: dict[str, str], headers: dict[str, str],
              body: bytes) -> bytes:
        self.report.visited += 1
        cte = headers.get("content-transfer-encoding", "7bit").strip().lower()
        codec = _python_codec(params.get("charset"))
        if codec is None:
            self.report.skipped.append(f"{ctype}: unknown charset {params.get('charset')!r}")
            return body
        raw = _decode_cte(body, cte)
        if raw is None:
            self.report.skipped.append(f"{ctype}: undecodable {cte}")
            return body
        try:
            text = raw.decode(codec)
        except UnicodeError:  # idna/punycode raise the base class
            if codec != "ascii":
                self.report.skipped.append(f"{ctype}: not valid {codec}")
                return body
            text = raw.decode("latin-1")  # undeclared 8-bit: bytes survive a round trip
            codec = "latin-1"
        new = self.visitor(ctype, text)
        if new is None or new == text:
            return body
        try:
            data = new.encode(codec)
        except UnicodeError:  # idna refuses long "labels" with the base class
            self.report.skipped.append(f"{ctype}: rewrite not representable in {codec}")
            return body
        self.report.changed += 1
        return _encode_cte(data, cte, body)


def walk(head_fields: dict[str, str], body: bytes, visitor: Visitor,
         types: frozenset[str] = frozenset({"text/html"})) -> tuple[bytes, WalkReport]:
    w = Walker(visitor, types)
    out = w.body(head_fields, body)
    return out, w.report
