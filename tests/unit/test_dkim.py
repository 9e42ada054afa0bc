"""dkim.py: signatures cover List-Unsubscribe and -Post (oversigned), verify through the
in-memory dnsfunc, and break on tampering or an added List-Unsubscribe."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import dkim as dkimpy
import pytest

from consentry import dkim, rawmsg

MSG = (b"From: News <news@mail.sender.example>\r\nTo: a@example.org\r\nSubject: hi\r\n"
       b"List-Unsubscribe: <https://u.example/u/abc>,\r\n <mailto:unsubscribe+abc@u.example>\r\n"
       b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\nbody\r\n")


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    p: Path = tmp_path_factory.mktemp("dkim") / "k.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(p), "2048"], check=True,
                   capture_output=True)
    return p.read_bytes()


def signer(pem: bytes, self_check: bool = True) -> dkim.DkimSigner:
    return dkim.signer_from({"sender.example": ("s1", pem)},
                            ["From", "To", "Subject", "List-Unsubscribe",
                             "List-Unsubscribe-Post"],
                            ["From", "List-Unsubscribe", "List-Unsubscribe-Post"],
                            "relaxed/relaxed", self_check)


def test_sign_covers_unsubscribe_headers_and_verifies(pem: bytes) -> None:
    s = signer(pem)
    assert s.openssl  # the key's signatures go through OpenSSL, verified by dkimpy
    out = s.sign(MSG, rawmsg.parse(MSG))
    assert out is not None and out.endswith(MSG)
    sig = rawmsg.parse(out).get("DKIM-Signature") or ""
    h = sig.split("h=", 1)[1].split(";", 1)[0].replace(" ", "").split(":")
    assert h.count("list-unsubscribe") == 2 and h.count("list-unsubscribe-post") == 2
    assert "d=sender.example" in sig and "s=s1" in sig
    # An independent verification through dkimpy with the published record.
    txt = dkim.public_key_record(pem)
    assert dkimpy.verify(out, dnsfunc=lambda name, timeout=5: txt)


def test_tampering_and_added_fields_break_it(pem: bytes) -> None:
    s = signer(pem)
    out = s.sign(MSG, rawmsg.parse(MSG))
    assert out is not None
    assert not s.verify(out.replace(b"One-Click", b"One-Clack"))
    assert not s.verify(out.replace(b"u/abc", b"u/abd"))
    added = out.replace(b"\r\n\r\n", b"\r\nList-Unsubscribe-Post: x\r\n\r\n", 1)
    assert not s.verify(added)
    assert not s.verify(out.replace(b"body", b"bodY"))


def test_key_selection(pem: bytes) -> None:
    s = signer(pem)
    assert s.key_for("mail.sender.example") is not None  # parent domain (aligned)
    assert s.key_for("sender.example") is not None
    assert s.key_for("other.example") is None
    other = MSG.replace(b"mail.sender.example", b"other.example")
    assert s.sign(other, rawmsg.parse(other)) is None
    with pytest.raises(dkim.DkimError):
        dkim.public_key_record(b"not a key")


def test_openssl_verify_step_agrees_with_dkimpys_own(pem: bytes) -> None:
    """The self-check's RSA step for our keys (OpenSSL) gives dkimpy's pure-Python
    answer: true for the signature as made, false for one flipped bit or another key's
    signature of the same digest."""
    import hashlib

    s = signer(pem)
    assert s.openssl
    other = subprocess.run(["openssl", "genrsa", "2048"], check=True,
                           capture_output=True).stdout
    priv = dkimpy.crypto.parse_pem_private_key(pem)
    priv_other = dkimpy.crypto.parse_pem_private_key(other)
    pub = {"modulus": priv["modulus"], "publicExponent": priv["publicExponent"]}
    h = hashlib.sha256(b"the header hash input")
    good = dkim._DKIMPY_SIGN(h, priv)
    bad = bytes([good[0] ^ 1]) + good[1:]
    foreign = dkim._DKIMPY_SIGN(h, priv_other)
    for sig in (good, bad, foreign):
        assert dkim._openssl_verify(h, sig, pub) == bool(
            dkim._DKIMPY_VERIFY(h, sig, pub))
    assert dkim._openssl_verify(h, good, pub) is True
    assert dkim._openssl_verify(h, bad, pub) is False


def test_memoised_canonicalisation_keeps_each_body_its_own(pem: bytes) -> None:
    """Copies sharing a body reuse its canonical form; another body never gets it: each
    signature carries its own body's hash and verifies only over that body."""
    import dkim.canonicalization as canon

    s = signer(pem)
    bodies = [b"same body\r\n" * 50, b"same body\r\n" * 50, b"other  body \r\n" * 50]
    signed = []
    for i, body in enumerate(bodies):
        content = MSG.split(b"\r\n\r\n", 1)[0] + f"\r\nX-Copy: {i}\r\n\r\n".encode() + body
        signed.append(s.sign(content, rawmsg.parse(content)))
    bh = [re.search(rb"bh=([^;]+);", x).group(1) for x in signed]  # type: ignore[union-attr]
    assert bh[0] == bh[1] != bh[2]
    assert all(s.verify(x) for x in signed)
    head, _, _ = signed[2].partition(b"\r\n\r\n")
    assert not s.verify(head + b"\r\n\r\n" + bodies[0])  # third signature, first body
    plain = canon.Relaxed.canonicalize_body.__defaults__[1]  # the unmemoised function
    assert canon.Relaxed.canonicalize_body(bodies[2]) == plain(bodies[2])
