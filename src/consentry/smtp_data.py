"""The SMTP DATA content reader: end-of-data, dot-unstuffing and the size and line limits
(RFC 5321 §4.5.2, §4.5.3.1) applied to whole chunks of the stream at a time.

aiosmtpd reads DATA one line at a time (a StreamReader.readuntil, a debug log call and
a few list operations per line: about 80 awaits for a 5 KB message), which measured
about 8 % of the relay's CPU at one recipient (bench/relay.py, py-spy). This reader
takes whatever the socket delivered and answers with the same results as aiosmtpd
1.4.6's loop: the same content bytes, the same `500 Line too long` / `552 Too much mail
data` outcome and precedence, the same end of data; a property test holds the two equal
on random streams cut at random points (tests/unit/test_smtp_data.py), and the
smuggling probes of tests/hostile run against it.

The end of data is CRLF "." CRLF and nothing else: every CRLF in the stream ends a line
(bare CR and bare LF are line content), so the end is the first CRLF.CRLF of the stream
with a virtual CRLF before its first byte (an empty message is just ".\\r\\n").
Everything is pure: bytes in, state and content out; no I/O.
"""

from __future__ import annotations

import enum

_END = b"\r\n.\r\n"
_CRLF = b"\r\n"


class DataState(enum.Enum):
    NOMINAL = enum.auto()
    TOO_LONG = enum.auto()   # a line over the line length limit: 500 after the end
    TOO_MUCH = enum.auto()   # more than the size limit: 552 after the end


class DataReader:
    """Feed the bytes after the 354 reply as they arrive; `feed` returns None until the
    end-of-data line was seen, then the bytes that followed it (pipelined commands,
    to be read as commands). While NOMINAL, `content()` is the message as sent, dot-
    unstuffed; once a limit is exceeded the content is dropped (memory stays bounded:
    at most one line or a few bytes are kept) and the rest is only scanned for the end.

    Limits as aiosmtpd counts them: `size_limit` on the bytes of the lines as sent
    (before unstuffing, CRLFs included, the end line excluded; None or 0 = unlimited);
    a line is too long when its length with CRLF exceeds `line_limit`."""

    __slots__ = ("_line_limit", "_parts", "_size_limit", "_tail", "size", "state")

    def __init__(self, size_limit: int | None, line_limit: int) -> None:
        self._size_limit = size_limit or 0
        self._line_limit = line_limit
        self._parts: list[bytes] = []
        # NOMINAL: CRLF + the line not yet complete (the CRLF is the previous line's end,
        # or the virtual one before the first line). Otherwise: the last <= 4 bytes.
        self._tail = _CRLF
        self.size = 0
        self.state = DataState.NOMINAL

    def content(self) -> bytes:
        return b"".join(self._parts)

    def feed(self, chunk: bytes) -> bytes | None:
        data = self._tail + chunk
        i = data.find(_END)
        if self.state is not DataState.NOMINAL:
            if i >= 0:
                return data[i + len(_END):]
            self._tail = data[-4:]  # a split end-of-data starts within the last 4 bytes
            return None
        if i >= 0:
            self._lines(data[2:i + 2])
            self._tail = b""
            return data[i + len(_END):]
        j = data.rfind(_CRLF)  # >= 0: data starts with CRLF
        if j > 0:
            self._lines(data[2:j + 2])
        tail = data[j:]
        if self.state is DataState.NOMINAL and len(tail) - 2 > self._line_limit:
            # The line is already longer than the limit: aiosmtpd's reader raises here
            # (LimitOverrunError) before counting it.
            self._overflow(DataState.TOO_LONG)
            self._tail = tail[-4:]
        elif self.state is DataState.NOMINAL:
            self._tail = tail
        else:
            self._tail = tail[-4:]
        return None

    def _lines(self, body: bytes) -> None:
        """Complete lines (each ending in CRLF, the first at a line start)."""
        if not body:
            return
        limit = self._size_limit
        over_size = bool(limit) and self.size + len(body) > limit
        long_line = max(map(len, body.split(_CRLF))) + 2 > self._line_limit
        if over_size or long_line:
            self._first_failure(body)
            if self.state is not DataState.NOMINAL:
                return
        self.size += len(body)
        if body[0] == 0x2E:  # "."
            body = body[1:]
        if b"\r\n." in body:
            body = body.replace(b"\r\n.", _CRLF)
        self._parts.append(body)

    def _first_failure(self, body: bytes) -> None:
        """Which limit aiosmtpd would hit first, line by line: a line whose text alone
        exceeds the limit fails before it is counted (the reader's LimitOverrunError); a
        line is counted, then the size checked, then its length with CRLF."""
        limit = self._size_limit
        size = self.size
        for text in body.split(_CRLF)[:-1]:
            if len(text) > self._line_limit:
                self._overflow(DataState.TOO_LONG)
                return
            size += len(text) + 2
            if limit and size > limit:
                self._overflow(DataState.TOO_MUCH)
                return
            if len(text) + 2 > self._line_limit:
                self._overflow(DataState.TOO_LONG)
                return

    def _overflow(self, state: DataState) -> None:
        self.state = state
        self._parts.clear()
