"""tracking.py on real-world-shaped newsletters: pixels removed and redirects unwrapped in
HTML parts only; MIME structure, charsets and transfer encodings intact; every other byte
unchanged."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage, Message

from consentry import rawmsg, tracking
from consentry.tracking import TrackingRules

RULES = TrackingRules.build(
    hosts=["track.esp.example", "*.clicks.example"],
    params=["url", "u", "redirect"],
    patterns=[r"^https://r\.esp\.example/c/[0-9]+/(?P<target>https?://.+)$"],
    strip_tiny=True,
)

HTML = """<html><head><meta charset="{cs}"></head><body>
<p>Grüße aus Köln - unser Angebot für Sie: {extra}</p>
<a href="https://track.esp.example/click?u=https%3A%2F%2Fshop.example%2Fsale%3Fa%3D1%26b%3D2\
&amp;id=7">Zum Shop</a>
<a class="btn" href='https://x.clicks.example/r?redirect=https://shop.example/ink'>Tinte</a>
<a href="https://r.esp.example/c/991/https://shop.example/paper">Papier</a>
<a href="https://shop.example/direct">direkt</a>
<a href="https://track.esp.example/opaque/XYZ">opaque</a>
<img src="https://shop.example/logo.png" width="120" height="40" alt="Logo">
<img src="cid:logo@x" width="1" height="1">
<img alt="" src="https://track.esp.example/open.gif?r=abc" width="1" height="1" border="0">
<IMG SRC="https://cdn.other.example/p.gif" style="width:1px;height:1px;display:none">
<p>Abmelden: <a href="https://unsub.example/u/x">hier</a></p>
</body></html>
"""


def newsletter(html_cs: str, html_cte: str, nested: bool = True) -> bytes:
    outer = EmailMessage()
    outer["From"] = "News <news@sender.example>"
    outer["To"] = "max@example.org"
    outer["Subject"] = "Angebot"
    outer["Message-ID"] = "<nl-1@sender.example>"
    alt = EmailMessage()
    alt.set_content("Grüße aus Köln\nhttps://track.esp.example/click?u=https://shop.example\n",
                    charset="utf-8", cte="quoted-printable")
    html = HTML.format(cs=html_cs, extra="€" if html_cs != "iso-8859-1" else "ÄÖÜ")
    alt.add_alternative(html.encode(html_cs), maintype="text", subtype="html",
                        cte=html_cte, params={"charset": html_cs})
    if nested:
        outer.make_mixed()
        outer.attach(alt)
        outer.add_attachment(b"\x89PNG fake", maintype="image", subtype="png",
                             filename="a.png")
    else:
        outer = alt
        outer["From"] = "News <news@sender.example>"
        outer["Subject"] = "Angebot"
    return outer.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def parts(data: bytes) -> list[Message]:
    m = email.message_from_bytes(data, policy=email.policy.compat32)
    return list(m.walk())


def html_of(data: bytes) -> tuple[str, Message]:
    for p in parts(data):
        if p.get_content_type() == "text/html":
            payload = p.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(p.get_content_charset() or "ascii"), p
    raise AssertionError("no html part")


def check(data: bytes, cs: str, cte: str) -> None:
    res = tracking.strip(rawmsg.parse(data), RULES)
    out = res.message.to_bytes()
    kinds = sorted((r.kind, r.url) for r in res.removals)
    assert [k for k, _ in kinds].count("pixel") == 2
    assert [k for k, _ in kinds].count("unwrapped") == 3
    assert ("kept-unresolvable", "https://track.esp.example/opaque/XYZ") in kinds
    html, part = html_of(out)
    assert part["Content-Transfer-Encoding"] == cte
    assert part.get_content_charset() == cs
    assert "Grüße aus Köln" in html  # charset survived the round trip
    assert 'href="https://shop.example/sale?a=1&amp;b=2"' in html
    assert "href='https://shop.example/ink'" in html  # quote style kept
    assert 'href="https://shop.example/paper"' in html
    assert "open.gif" not in html and "p.gif" not in html
    assert "logo.png" in html and "cid:logo@x" in html
    assert 'href="https://track.esp.example/opaque/XYZ"' in html
    # Structure: same parts, same types, same headers; non-HTML parts byte-identical.
    before, after = parts(data), parts(out)
    assert [p.get_content_type() for p in before] == [p.get_content_type() for p in after]
    for b, a in zip(before, after, strict=True):
        assert b.items() == a.items()
        if b.get_content_type() != "text/html" and not b.is_multipart():
            assert b.get_payload() == a.get_payload()
    # Idempotent: a second pass removes nothing more.
    again = tracking.strip(res.message, RULES)
    assert not again.changed and again.message == res.message


def test_nested_base64_latin1() -> None:
    check(newsletter("iso-8859-1", "base64"), "iso-8859-1", "base64")


def test_nested_quoted_printable_windows1252() -> None:
    check(newsletter("windows-1252", "quoted-printable"), "windows-1252", "quoted-printable")


def test_nested_qp_utf8() -> None:
    check(newsletter("utf-8", "quoted-printable"), "utf-8", "quoted-printable")


def test_single_alternative_8bit_utf8() -> None:
    check(newsletter("utf-8", "8bit", nested=False), "utf-8", "8bit")


def test_untouched_message_is_byte_identical() -> None:
    data = newsletter("utf-8", "base64")
    res = tracking.strip(rawmsg.parse(data), TrackingRules.build([], [], [], False))
    assert res.message.to_bytes() == data and not res.removals


def test_plain_text_parts_untouched_and_bytes_outside_html_identical() -> None:
    data = newsletter("utf-8", "quoted-printable")
    out = tracking.strip(rawmsg.parse(data), RULES).message.to_bytes()
    # Everything before the HTML part's body is byte-identical.
    cut = data.index(b"Content-Type: text/html")
    assert out[:cut] == data[:cut]
    assert out.endswith(data[data.rindex(b"Content-Type: image/png"):])


def test_footer_check() -> None:
    data = newsletter("utf-8", "base64")
    rx = re.compile(r"(?i)abmelden|unsubscribe")
    assert tracking.has_optout(rawmsg.parse(data), rx)
    assert not tracking.has_optout(rawmsg.parse(data), re.compile("nomatch-xyz"))


def test_broken_parts_are_skipped_not_mangled() -> None:
    data = (b"From: a@b.example\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: text/html; charset="x-unknown-cs"\r\n\r\n'
            b'<img src="https://track.esp.example/o.gif">\r\n')
    res = tracking.strip(rawmsg.parse(data), RULES)
    assert res.message.to_bytes() == data and res.skipped


def test_css_and_background_trackers_removed_other_css_kept() -> None:
    data = (b"From: a@b.example\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: text/html; charset="utf-8"\r\n\r\n'
            b"<style>.o{background-image:url('https://track.esp.example/read.gif?x=1')}"
            b" .l{background:url(https://shop.example/bg.png)}</style>"
            b'<div style="background:#fff url(&quot;https://a.clicks.example/t.png&quot;)">'
            b'<table background="https://track.esp.example/bg.gif"><tr><td>Hi</td></tr>'
            b"</table></div>\r\n")
    res = tracking.strip(rawmsg.parse(data), RULES)
    out = res.message.to_bytes()
    assert b"read.gif" not in out and b"t.png" not in out and b"bg.gif" not in out
    assert b"url(https://shop.example/bg.png)" in out
    assert b"background-image:none" in out and b"background:#fff none" in out
    assert [r.kind for r in res.removals] == ["pixel", "pixel", "pixel"]
