"""Bounded MIME parsing for hostile inbound mail (RELIABILITY §2 "Parser DoS", §4.2 H9).

Everything that reaches the inbound listener is untrusted: a DSN, a feedback report or
a reply may be a MIME bomb. So before the stdlib parser sees a byte we
  - cut the message to ``max_bytes`` (the facts of a bounce sit in its first parts; the
    returned original's body is what makes bounces big),
  - count the top-level header fields and the header section's size,
  - count multipart/message containers (an upper bound on the nesting depth: the
    feedparser recurses per level, so 10 000 levels would be a RecursionError),
  - count boundary delimiter lines of the declared boundaries (the number of parts).
All four scans are single passes over the bytes. Then we parse with the ``compat32``
policy, which never runs the header value parser with the quadratic cases
(cpython #136063, gh-134873), and decode header values ourselves from capped strings.
Work after the caps is linear in the (capped) input, so the CPU per message is bounded.
"""

from __future__ import annotations

import email
import email.header
import email.message
import re
from dataclasses import dataclass, field
from email import policy as email_policy

__all__ = [
    "Headers",
    "Limits",
    "MessageUnparseable",
    "ParseLimitExceeded",
    "Parsed",
    "Part",
    "check_limits",
    "decode_header_value",
    "parse_header_block",
    "parse_message",
    "split_mbox",
]


class ParseLimitExceeded(ValueError):
    """The message exceeds a parse cap; it is refused unparsed (the reason names the cap)."""


class MessageUnparseable(ValueError):
    """The e-mail parser could not read the message (it is not a bomb: nothing to
    refuse at the door; the classifier calls it unknown and it goes to review)."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 2_000_000  # parsed prefix; the rest is dropped, never rejected
    max_header_fields: int = 1_000  # top-level fields (real mail: < 200)
    max_header_bytes: int = 262_144  # top-level header section
    max_containers: int = 64  # multipart/* and message/* declarations (bounds depth)
    max_parts: int = 500  # boundary delimiter lines
    max_depth: int = 16  # nesting depth actually walked
    max_value_chars: int = 8_192  # one decoded header value
    max_text_chars: int = 262_144  # one decoded text part


_CONTAINER = re.compile(rb"^content-type:[ \t]*(?:multipart|message)/", re.I | re.M)
_BOUNDARY = re.compile(rb"""boundary[ \t]*=[ \t]*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))""",
                       re.I)
_ENCODED_WORD = re.compile(r"=\?[^?\s]{1,40}\?[bBqQ]\?[^?\s]*\?=")
_FIELD_LINE = re.compile(r"^([\x21-\x39\x3b-\x7e]{1,76})[ \t]*:(.*)$")


def _prescan(data: bytes, limits: Limits) -> None:
    """Refuse bombs before any parser allocates per-part structures."""
    end = data.find(b"\n\n")
    end_crlf = data.find(b"\r\n\r\n")
    cands = [e for e in (end, end_crlf) if e >= 0]
    head_end = min(cands) if cands else len(data)
    if head_end > limits.max_header_bytes:
        raise ParseLimitExceeded(
            f"header section larger than {limits.max_header_bytes} bytes")
    head = data[:head_end]
    fields = 0
    for line in head.split(b"\n"):
        if line[:1] not in (b" ", b"\t") and b":" in line:
            fields += 1
    if fields > limits.max_header_fields:
        raise ParseLimitExceeded(f"more than {limits.max_header_fields} header fields")
    containers = len(_CONTAINER.findall(data))
    if containers > limits.max_containers:
        raise ParseLimitExceeded(f"more than {limits.max_containers} MIME containers")
    boundaries = {(m.group(1) or m.group(2)) for m in _BOUNDARY.finditer(data)}
    if len(boundaries) > limits.max_containers:
        raise ParseLimitExceeded(f"more than {limits.max_containers} MIME boundaries")
    if boundaries:
        parts = 0
        for line in data.split(b"\n"):
            if line.startswith(b"--"):
                token = line[2:].rstrip(b"\r \t")
                if token.endswith(b"--"):
                    token = token[:-2]
                if token in boundaries:
                    parts += 1
        if parts > limits.max_parts:
            raise ParseLimitExceeded(f"more than {limits.max_parts} MIME parts")


def _to_text(value: str) -> str:
    # compat32 keeps undecodable 8-bit header bytes as surrogate escapes; most such
    # headers are UTF-8, the rest get replacement characters.
    if value.isascii():
        return value
    try:
        raw = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return value
    return raw.decode("utf-8", "replace")


def _field_text(value: object) -> str:
    """A field of a delivery-status block as compat32 holds it: a str, or (8-bit bytes
    in it) a Header of unknown-8bit chunks whose str() would be U+FFFD per byte; its
    chunks give the bytes back, read as UTF-8 (RFC 6533)."""
    if isinstance(value, email.header.Header):
        raw = b"".join(b if isinstance(b, bytes) else b.encode("utf-8", "surrogateescape")
                       for b, _cs in email.header.decode_header(value))
        return raw.decode("utf-8", "replace")
    return _to_text(str(value))


def decode_header_value(value: object, limit: int = 8_192) -> str:
    """Unfold and decode (RFC 2047) a header value; never raises, never exceeds `limit`."""
    if not isinstance(value, str):
        value = str(value)
    text = _to_text(value[: limit * 2])
    text = re.sub(r"\r?\n[ \t]*", " ", text)
    if "=?" in text and _ENCODED_WORD.search(text):
        try:
            chunks = email.header.decode_header(text)
            out: list[str] = []
            for chunk, charset in chunks:
                if isinstance(chunk, bytes):
                    out.append(_decode_bytes(chunk, charset))
                else:
                    out.append(chunk)
            text = "".join(out)
        except (ValueError, LookupError, AssertionError, email.errors.HeaderParseError):
            pass
    return text.strip()[:limit]


def _decode_body(raw: bytes, charset: str | None) -> str:
    """Decode a text body. Raw UTF-8 wins over a wrong label (samples and gateways that
    re-encode keep the old charset parameter); undecodable bytes fall back to latin-1."""
    if not raw.isascii():
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    text = _decode_bytes(raw, charset)
    if "\ufffd" in text:
        text = raw.decode("latin-1")
    return text


# Labels mail clients write that Python's codec registry does not know by that name
# (Outlook's Thai "windows-874", Mozilla's "x-mac-roman", Microsoft's "windows-31j",
# the "logical" Hebrew "iso-8859-8-i").
_CHARSET_ALIASES = {"windows-874": "cp874", "x-windows-874": "cp874", "windows-31j": "cp932",
                    "x-sjis": "cp932", "x-euc-jp": "euc_jp", "x-gbk": "gbk",
                    "x-mac-roman": "mac_roman", "x-mac-cyrillic": "mac_cyrillic",
                    "iso-8859-8-i": "iso8859_8", "iso-8859-6-i": "iso8859_6",
                    "iso-8859-8-e": "iso8859_8", "iso-8859-6-e": "iso8859_6"}


def _decode_bytes(data: bytes, charset: str | None) -> str:
    cs = (charset or "utf-8").strip().lower()
    if cs in ("unknown-8bit", "x-unknown", "us-ascii", "ascii", "default"):
        cs = "utf-8"
    cs = _CHARSET_ALIASES.get(cs, cs)
    if cs.startswith("x-cp125"):  # "x-cp1250" … "x-cp1258"
        cs = cs[2:]
    try:
        return data.decode(cs, "replace")
    except (LookupError, ValueError):
        # unknown, or no text encoding (rot13, base64), a NUL in the name (ValueError),
        # a codec refusing the "replace" handler (idna: UnicodeError)
        return data.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Headers:
    """Decoded header fields, names lower-cased, in order."""

    items: tuple[tuple[str, str], ...] = ()

    def get(self, name: str, default: str | None = None) -> str | None:
        ln = name.lower()
        for k, v in self.items:
            if k == ln:
                return v
        return default

    def all(self, name: str) -> list[str]:
        ln = name.lower()
        return [v for k, v in self.items if k == ln]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __bool__(self) -> bool:
        return bool(self.items)


def _headers_of(msg: email.message.Message, limits: Limits) -> Headers:
    items: list[tuple[str, str]] = []
    # raw_items: compat32's items() wraps 8-bit values in Header objects that lose the
    # bytes; the raw value keeps them as surrogate escapes for _to_text.
    for k, v in list(msg.raw_items())[: limits.max_header_fields]:
        items.append((str(k).strip().lower(), decode_header_value(v, limits.max_value_chars)))
    return Headers(tuple(items))


def parse_header_block(text: str, limits: Limits | None = None) -> Headers:
    """Field lines (as in text/rfc822-headers or a delivery-status block) to Headers.
    Stops at the first blank line. Tolerant: lines that are not fields are skipped."""
    lim = limits or Limits()
    items: list[tuple[str, str]] = []
    cur_name: str | None = None
    cur: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if cur_name is not None or items:
                break
            continue
        if line[:1] in (" ", "\t") and cur_name is not None:
            cur.append(line.strip())
            continue
        m = _FIELD_LINE.match(line)
        if m is None:
            continue
        if cur_name is not None:
            items.append((cur_name, decode_header_value(" ".join(cur), lim.max_value_chars)))
            if len(items) >= lim.max_header_fields:
                cur_name = None
                break
        cur_name = m.group(1).lower()
        cur = [m.group(2).strip()]
    if cur_name is not None:
        items.append((cur_name, decode_header_value(" ".join(cur), lim.max_value_chars)))
    return Headers(tuple(items))


@dataclass(frozen=True, slots=True)
class Part:
    """One MIME entity in document order.

    `headers` are the entity's own fields; for the top message and for an enclosed
    message (message/rfc822, text/rfc822-headers) `is_message` is true and they are the
    message's header fields. `in_original` marks entities inside a returned or quoted
    message: detectors read their headers, never their text as a report."""

    ctype: str
    headers: Headers
    text: str
    depth: int
    in_original: bool
    is_message: bool = False
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class Parsed:
    headers: Headers
    parts: tuple[Part, ...]
    truncated: bool = False
    size: int = 0
    defects: tuple[str, ...] = field(default_factory=tuple)
    # The compat32 tree, for third-party detectors (flufl.bounce) that want one.
    stdlib: email.message.Message | None = field(default=None, compare=False, repr=False)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    @property
    def subject(self) -> str:
        return self.headers.get("subject") or ""

    def report_parts(self) -> list[Part]:
        """Entities that belong to the report itself, not to a returned original."""
        return [p for p in self.parts if not p.in_original]

    def enclosed(self) -> list[Parsed]:
        """Messages enclosed as message/rfc822 parts, each as a Parsed of its own (a
        gateway that wraps the DSN it received, a person forwarding a bounce)."""
        out: list[Parsed] = []
        for i, p in enumerate(self.parts):
            if not (p.is_message and p.in_original and p.ctype != "text/rfc822-headers"):
                continue
            sub: list[Part] = []
            inner_depths: list[int] = []
            for q in self.parts[i:]:
                if q is not p and q.depth <= p.depth:
                    break
                while inner_depths and q.depth <= inner_depths[-1]:
                    inner_depths.pop()
                inside = bool(inner_depths)
                if q is not p and q.is_message:
                    inner_depths.append(q.depth)
                    inside = True
                sub.append(Part(q.ctype, q.headers, q.text, q.depth - p.depth, inside,
                                q.is_message, q.filename))
            out.append(Parsed(p.headers, tuple(sub), self.truncated, 0, ()))
        return out

    def original_headers(self) -> list[Headers]:
        """Header sections of returned/enclosed messages (text/rfc822-headers too)."""
        return [p.headers for p in self.parts if p.is_message and p.in_original]


# Machine-readable report parts: fields, not an enclosed message (compat32 parses the
# feedback report as a one-header-block message, the delivery status as a list of them).
_REPORT_TYPES = ("message/delivery-status", "message/global-delivery-status",
                 "message/feedback-report", "message/disposition-notification",
                 "message/global-disposition-notification")
_TEXTUAL = ("text/", "message/delivery-status", "message/global-delivery-status",
            "message/feedback-report", "message/disposition-notification",
            "application/json")  # an ESP's delivery events mailed as an attachment


def _get_payload(msg: email.message.Message, decode: bool = False) -> object:
    """get_payload(), also when the charset parameter is unusable: compat32 decodes an
    8-bit payload with the sender's charset name and lets ValueError (a NUL in it),
    UnicodeError (idna refusing "replace") and TypeError (an RFC 2231 ``charset*=``
    parameter comes back as a tuple) escape. Such a part reads as if it had none."""
    try:
        return msg.get_payload(decode=True) if decode else msg.get_payload()
    except (ValueError, LookupError, TypeError):
        msg.del_param("charset")
    return msg.get_payload(decode=True) if decode else msg.get_payload()


def _part_text(part: email.message.Message, limits: Limits) -> str:
    ctype = part.get_content_type()
    payload = _get_payload(part)
    if isinstance(payload, list):
        # compat32 splits message/delivery-status into one Message per field block, and
        # reads any other message/* (RFC 6533's message/global-delivery-status) as one
        # enclosed message: the first block its header, every later block its body.
        blocks: list[str] = []
        for sub in payload[: limits.max_parts]:
            if isinstance(sub, email.message.Message):
                blocks.append("\n".join(f"{k}: {_field_text(v)}" for k, v in sub.raw_items()))
                # get_payload() would turn 8-bit bytes (RFC 6533's UTF-8 addresses and
                # texts) into U+FFFD under its "ascii" default; decode=True keeps them.
                rest = None if sub.is_multipart() else _get_payload(sub, decode=True)
                if isinstance(rest, bytes) and rest.strip():
                    blocks.append(_decode_body(rest[: limits.max_text_chars * 4], "utf-8"))
        return "\n\n".join(blocks)[: limits.max_text_chars]
    raw = _get_payload(part, decode=True)
    if not isinstance(raw, bytes):
        return ""
    raw = raw[: limits.max_text_chars * 4]
    charset = part.get_content_charset()
    if charset is None and ctype.startswith("message/"):
        charset = "utf-8"
    text = _decode_body(raw, charset)
    return text[: limits.max_text_chars].replace("\r\n", "\n")


def _walk(
    msg: email.message.Message,
    limits: Limits,
    out: list[Part],
    depth: int,
    in_original: bool,
    is_message: bool,
) -> None:
    if depth > limits.max_depth:
        raise ParseLimitExceeded(f"MIME nesting deeper than {limits.max_depth}")
    if len(out) >= limits.max_parts:
        raise ParseLimitExceeded(f"more than {limits.max_parts} MIME parts")
    ctype = msg.get_content_type()
    headers = _headers_of(msg, limits)
    filename = msg.get_filename()
    payload = _get_payload(msg)
    if ctype.startswith("multipart/") and not msg.is_multipart():
        # A multipart whose boundary got lost (a folded Content-Type broken by the
        # sender): its payload is text, read it as such.
        ctype = "text/plain"
    if msg.is_multipart() and ctype.startswith("multipart/"):
        out.append(Part(ctype, headers, "", depth, in_original, is_message, None))
        assert isinstance(payload, list)
        for sub in payload:
            if isinstance(sub, email.message.Message):
                _walk(sub, limits, out, depth + 1, in_original, False)
        return
    if ctype in ("message/rfc822", "message/global", "message/partial") or (
        ctype.startswith("message/") and isinstance(payload, list)
        and ctype not in _REPORT_TYPES
    ):
        out.append(Part(ctype, headers, "", depth, in_original, is_message, filename))
        if isinstance(payload, list):
            for sub in payload[:1]:
                if isinstance(sub, email.message.Message):
                    _walk(sub, limits, out, depth + 1, True, True)
        elif ctype == "message/global" and isinstance(payload, str):
            inner = email.message_from_string(payload[: limits.max_text_chars * 2],
                                              policy=email_policy.compat32)
            _walk(inner, limits, out, depth + 1, True, True)
        return
    text = _part_text(msg, limits) if ctype.startswith(_TEXTUAL) or ctype == "" else ""
    if ctype in ("text/rfc822-headers", "text/global-headers"):
        out.append(Part(ctype, headers, text, depth, in_original, is_message, filename))
        out.append(Part("text/rfc822-headers", parse_header_block(text, limits), "",
                        depth + 1, True, True, None))
        return
    out.append(Part(ctype, headers, text, depth, in_original, is_message, filename))


# An mbox "From " envelope line: sender, then an asctime() date.
_MBOX_FROM = re.compile(rb"\n(?=From [^\s]{1,300} {1,3}(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                        rb"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d)")


def split_mbox(data: bytes, max_messages: int = 1_000) -> list[bytes]:
    """Messages of an mbox file (a file starting with a ``From `` envelope line); any
    other file is one message. mboxo/mboxrd quoting (``>From``) is left as it is."""
    if not data.startswith(b"From "):
        return [data]
    norm_data = data.replace(b"\r\n", b"\n")
    out: list[bytes] = []
    start = 0
    for m in _MBOX_FROM.finditer(norm_data):
        out.append(norm_data[start: m.start() + 1])
        start = m.start() + 1
        if len(out) >= max_messages - 1:
            break
    out.append(norm_data[start:])
    return [m for m in out if m.strip()]


def check_limits(data: bytes, limits: Limits | None = None) -> None:
    """Raise ParseLimitExceeded if `data` is a bomb (the same caps parse_message applies
    first); cheap and linear, so a listener can refuse before accepting responsibility."""
    lim = limits or Limits()
    if len(data) > lim.max_bytes:
        cut = data.rfind(b"\n", 0, lim.max_bytes)
        data = data[: cut + 1 if cut > 0 else lim.max_bytes]
    _prescan(data, lim)


# A boundary folded inside its quotes (HCL Notes: 'boundary="=_alternative\r\n 002B…_="'):
# RFC 5322 unfolding removes the line break and keeps the space, and the delimiter lines
# carry the space. compat32 would keep the break in the boundary and find no part.
_FOLDED_BOUNDARY = re.compile(rb'(?i)(\bboundary[ \t]*=[ \t]*"[^"\r\n]{0,200})\r?\n(?=[ \t])')


def _unfold_boundaries(data: bytes) -> bytes:
    for _ in range(4):  # a boundary folded more than once (bounded)
        new = _FOLDED_BOUNDARY.sub(rb"\1", data)
        if new == data:
            break
        data = new
    return data


def parse_message(data: bytes, limits: Limits | None = None) -> Parsed:
    """Parse untrusted message bytes within `limits`; raise ParseLimitExceeded for bombs."""
    lim = limits or Limits()
    size = len(data)
    truncated = size > lim.max_bytes
    if truncated:
        cut = data.rfind(b"\n", 0, lim.max_bytes)
        data = data[: cut + 1 if cut > 0 else lim.max_bytes]
    data = _unfold_boundaries(data)
    _prescan(data, lim)
    parts: list[Part] = []
    try:
        msg = email.message_from_bytes(data, policy=email_policy.compat32)
        _walk(msg, lim, parts, 0, False, True)
        headers = _headers_of(msg, lim)
    except RecursionError:  # pragma: no cover - prescan bounds the depth
        raise ParseLimitExceeded("MIME nesting too deep") from None
    except ParseLimitExceeded:
        raise
    except (ValueError, LookupError, TypeError, IndexError, AttributeError) as exc:
        # The stdlib parser is not total on hostile bytes: an RFC 2231 parameter whose
        # charset holds a NUL ("boundary*=us\0ascii''x") makes `str(b, charset)` raise
        # ValueError from inside the feed parser (found by the atheris harness). Such a
        # message is unparseable, not a classifier failure: the caller says "unknown".
        raise MessageUnparseable(f"the e-mail parser failed: {type(exc).__name__}: "
                                 f"{str(exc)[:120]}") from None
    defects = tuple(sorted({type(d).__name__ for d in msg.defects}))
    return Parsed(headers, tuple(parts), truncated, size, defects, msg)
