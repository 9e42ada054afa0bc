"""Byte-level view of a message: header fields and body, never re-serialised by the stdlib.

The relay removes and adds whole header fields and leaves every other byte as the client
sent it, so the bytes hashed, signed and delivered are the bytes received minus our edits.
(CPython's email package re-folds and re-encodes on output and has had quadratic parsing
bugs; we only need field boundaries.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import MalformedMessage

_BARE = re.compile(rb"\r(?!\n)|(?<!\r)\n")
_LINE_ENDINGS = re.compile(rb"(?:\r\n|\n|\r(?!\n))")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_FIELD_NAME = re.compile(rb"^[\x21-\x39\x3b-\x7e]+$")
MAX_HEADER_BYTES = 1_048_576
MAX_HEADER_FIELDS = 10_000


@dataclass(frozen=True, slots=True)
class HeaderField:
    name: str  # as written
    raw: bytes  # the whole field including folded lines and the final CRLF

    @property
    def lname(self) -> str:
        return self.name.lower()

    def value(self) -> str:
        """Unfolded value, decoded leniently (for classification only, never re-emitted)."""
        _, _, v = self.raw.partition(b":")
        v = re.sub(rb"\r\n(?=[ \t])", b"", v).strip()
        return v.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class RawMessage:
    fields: tuple[HeaderField, ...]
    separator: bytes  # b"\r\n" or b"" when the message has no body
    body: bytes

    def get(self, name: str) -> str | None:
        ln = name.lower()
        for f in self.fields:
            if f.lname == ln:
                return f.value()
        return None

    def without(self, names: frozenset[str]) -> RawMessage:
        return RawMessage(
            tuple(f for f in self.fields if f.lname not in names), self.separator, self.body
        )

    def with_prepended(self, fields: list[HeaderField]) -> RawMessage:
        return RawMessage(tuple(fields) + self.fields, self.separator, self.body)

    def to_bytes(self) -> bytes:
        return b"".join(f.raw for f in self.fields) + self.separator + self.body


def find_bare_newlines(data: bytes) -> int:
    """Count CR not followed by LF and LF not preceded by CR (SMTP smuggling material)."""
    # Fast path (the relay's hot path, C speed): CRLF pairs never overlap, so when every
    # CR and every LF is part of one, there is nothing bare. Only otherwise run the regex.
    pairs = data.count(b"\r\n")
    if data.count(b"\r") == pairs and data.count(b"\n") == pairs:
        return 0
    return sum(1 for _ in _BARE.finditer(data))


def normalize_newlines(data: bytes) -> bytes:
    """Postfix-style `normalize`: every bare CR or LF becomes CRLF."""
    return _BARE.sub(b"\r\n", data)


def data_payload(content: bytes) -> bytes:
    """The DATA payload exactly as aiosmtplib's data() sends it: CRLF line endings, a
    final CRLF, leading dots doubled (RFC 5321 §4.5.2), then the terminating dot."""
    return b"".join(data_payload_parts(content))


def data_payload_parts(content: bytes) -> tuple[bytes, ...]:
    """data_payload(content) in pieces to join: `content` itself and the terminating
    dot when it needs no change (relayed content is clean), so a payload kept beside
    its content costs no second copy of it."""
    pairs = content.count(b"\r\n")  # C-speed checks first: relayed content is clean
    body = content if content.count(b"\r") == pairs == content.count(b"\n") \
        else _LINE_ENDINGS.sub(b"\r\n", content)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    if body.startswith(b".") or b"\n." in body:
        body = _LEADING_DOT.sub(b"..", body)
    return (body, b".\r\n")


def parse(data: bytes) -> RawMessage:
    """Split header fields from the body; raise MalformedMessage on a broken header section.

    `data` must already have CRLF line endings only.
    """
    if b"\x00" in data:
        raise MalformedMessage("NUL byte in message")
    end = data.find(b"\r\n\r\n")
    if data.startswith(b"\r\n"):
        head, sep, body = b"", b"\r\n", data[2:]
    elif end == -1:
        head, sep, body = data, b"", b""
        if head and not head.endswith(b"\r\n"):
            head += b"\r\n"
    else:
        head, sep, body = data[: end + 2], b"\r\n", data[end + 4 :]
    if len(head) > MAX_HEADER_BYTES:
        raise MalformedMessage("header section larger than 1 MiB")
    fields: list[HeaderField] = []
    lines = head.split(b"\r\n")[:-1] if head else []
    current_name: str | None = None
    current: list[bytes] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if current_name is None:
                raise MalformedMessage("message starts with a continuation line")
            current.append(line + b"\r\n")
            continue
        name, colon, _ = line.partition(b":")
        if not colon or not _FIELD_NAME.match(name):
            if not fields and current_name is None:
                raise MalformedMessage("message does not start with a header field")
            raise MalformedMessage(f"malformed header line {len(fields) + 2}")
        if current_name is not None:
            fields.append(HeaderField(current_name, b"".join(current)))
        current_name = name.decode("ascii")
        current = [line + b"\r\n"]
        if len(fields) >= MAX_HEADER_FIELDS:
            raise MalformedMessage("more than 10000 header fields")
    if current_name is not None:
        fields.append(HeaderField(current_name, b"".join(current)))
    if not fields:
        raise MalformedMessage("message has no header fields")
    return RawMessage(tuple(fields), sep, body)


def make_field(name: str, value: str) -> HeaderField:
    """Build a header field from trusted, already-safe text; refuses CR/LF injection."""
    if any(c in value for c in "\r\n\x00") or not _FIELD_NAME.match(name.encode("ascii")):
        raise ValueError("header name/value contains forbidden characters")
    return HeaderField(name, f"{name}: {value}\r\n".encode())
