"""Malformed and hostile MIME messages (RELIABILITY H9/H10), as CRLF bytes. Each is small
enough for a test run and shaped after a known parser failure: deep nesting (feedparser
recursion), missing or never-closed boundaries, thousands of parts, broken base64 and
quoted-printable, charsets Python does not know or that do not match the bytes, RFC 2047
words with bad encodings, and NUL-free binary junk in text parts."""

from __future__ import annotations

HEAD = ("From: Kunde <kunde@isp.example>\r\nTo: antwort@shop.test\r\n"
        "Subject: {subject}\r\nMessage-ID: <{name}@isp.example>\r\nMIME-Version: 1.0\r\n")


def _msg(name: str, ctype: str, body: str, extra: str = "") -> bytes:
    head = HEAD.format(subject=f"hostile {name}", name=name) + extra
    return (head + f"Content-Type: {ctype}\r\n\r\n" + body).encode("utf-8", "surrogateescape")


def nested(depth: int, name: str = "nested") -> bytes:
    opens = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'
                    for i in range(1, depth))
    closes = "".join(f"\r\n--b{i}--\r\n" for i in reversed(range(depth)))
    inner = ('Content-Type: text/html; charset=utf-8\r\n\r\n'
             '<p>bitte abmelden <img src="https://t.example/o.gif" width="1" height="1"></p>')
    return _msg(name, 'multipart/mixed; boundary="b0"', "--b0\r\n" + opens + inner + closes)


def many_parts(n: int) -> bytes:
    part = "--p\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    return _msg(f"parts{n}", 'multipart/mixed; boundary="p"', part * n + "--p--\r\n")


CASES: dict[str, bytes] = {
    "nested-1000": nested(1000, "nested-1000"),
    "nested-40": nested(40, "nested-40"),
    "parts-5000": many_parts(5000),
    "multipart-no-boundary": _msg("nobound", "multipart/mixed",
                                  "--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x--\r\n"),
    "boundary-never-closed": _msg("unclosed", 'multipart/alternative; boundary="u"',
                                  "--u\r\nContent-Type: text/html\r\n\r\n<p>a</p>\r\n"
                                  "--u\r\nContent-Type: text/plain\r\n\r\nb\r\n"),
    "boundary-absent-in-body": _msg("absent", 'multipart/mixed; boundary="zzz"',
                                    "just text, no delimiter at all\r\n"),
    "empty-boundary": _msg("emptyb", 'multipart/mixed; boundary=""', "--\r\n\r\nx\r\n----\r\n"),
    "broken-base64": _msg("b64", "text/html; charset=utf-8",
                          "PGh0bWw+!!!not*base64***\r\n====\r\nQQ\r\n",
                          "Content-Transfer-Encoding: base64\r\n"),
    "base64-bad-padding-html": _msg("b64pad", "text/html; charset=utf-8", "PGltZyBzcmM9\r\n",
                                    "Content-Transfer-Encoding: base64\r\n"),
    "broken-qp": _msg("qp", "text/html; charset=utf-8",
                      "<p>=ZZ=4=\r\n=\r\n=E2=82</p> soft break at end=",
                      "Content-Transfer-Encoding: quoted-printable\r\n"),
    "unknown-charset": _msg("cs", "text/plain; charset=x-no-such-charset-42",
                            "Bitte abmelden\r\n"),
    "charset-mismatch": HEAD.format(subject="mismatch", name="mismatch").encode()
    + b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>\xff\xfe\xc3(abmelden</p>\r\n",
    "charset-rot13": _msg("rot13", 'text/html; charset="rot13"',
                          '<p>bitte <img src="https://t.example/o.gif" width="1"></p>\r\n'),
    "charset-base64-codec": _msg("b64codec", "text/html; charset=base64", "PHA+aGk8L3A+\r\n"),
    "charset-idna": _msg("idnacs", "text/html; charset=idna", "<p>" + "x" * 80 + "</p>\r\n"),
    "charset-nul": HEAD.format(subject="nulcs", name="nulcs").encode()
    + b'Content-Type: text/plain; charset=\x00"iso-2022-jp"\r\n\r\nBitte abmelden\r\n',
    "dsn-nul-charset": HEAD.format(subject="Undelivered", name="dsnnul").encode()
    + b'Content-Type: multipart/report; report-type=delivery-status; boundary="n"\r\n\r\n'
    b'--n\r\nContent-Type: text/plain; charset="\x00x"\r\n\r\nmailbox full\r\n--n--\r\n',
    # an RFC 2231 boundary whose charset holds a NUL: str(bytes, charset) raises
    # ValueError inside the stdlib feed parser itself (found by the atheris harness)
    "rfc2231-nul-charset-boundary": HEAD.format(subject="nul2231", name="nul2231").encode()
    + b"Content-Type: multipart/signed; protocol=\"application/pgp-signature\";\r\n"
    b"\tboundary*=us\x00ascii''sig\r\n\r\n--sig\r\nContent-Type: text/plain\r\n\r\n"
    b"Bitte abmelden\r\n--sig--\r\n",
    "utf7-charset": _msg("utf7", "text/plain; charset=utf-7", "+AGEAYgBj-  +ZeVnLIqe-\r\n"),
    "bad-encoded-words": _msg("ew", "text/plain", "body\r\n",
                              "X-Note: =?utf-8?b?!!!?= =?x-unknown?q?abc?= =?utf-8?q?=ZZ?=\r\n"
                              "Reply-To: " + "\r\n ".join(["=?utf-8?b?" + "QUFB" * 15 + "?="] * 150)
                              + " <r@isp.example>\r\n"),
    "content-type-garbage": _msg("ctg", 'multipart/; boundary=";;;"; ;;; charset="',
                                 "--;;;\r\n\r\nx\r\n--;;;--\r\n"),
    "message-rfc822-loop": _msg("rfc822", "message/rfc822",
                                "Content-Type: message/rfc822\r\n\r\n" * 50 + "Subject: x\r\n\r\n"),
    "dsn-garbage": _msg("dsn", 'multipart/report; report-type=delivery-status; boundary="d"',
                        "--d\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
                        "--d\r\nContent-Type: message/delivery-status\r\n\r\n"
                        "Final-Recipient: rfc822;\r\nStatus: 9.9.9.9.9\r\n"
                        "Action: failed\r\nDiagnostic-Code: smtp; " + "\r\n ".join(["5" * 70] * 70)
                        + "\r\n\r\n"
                        "Final-Recipient: ;;;\r\nStatus: 5.\r\n\r\n--d--\r\n"),
    "arf-garbage": _msg("arf", 'multipart/report; report-type=feedback-report; boundary="f"',
                        "--f\r\nContent-Type: message/feedback-report\r\n\r\n"
                        "Feedback-Type: abuse\r\nOriginal-Rcpt-To: <<<@@@>>>\r\n"
                        "Original-Mail-From: \r\n\r\n--f\r\nContent-Type: message/rfc822\r\n"
                        "\r\nTo: \x7f\r\n\r\n--f--\r\n"),
    "binary-junk-text": HEAD.format(subject="junk", name="junk").encode()
    + b"Content-Type: text/plain\r\n\r\n" + bytes(range(1, 256)).replace(b"\r", b"")
    .replace(b"\n", b"") + b"\r\n",
}
