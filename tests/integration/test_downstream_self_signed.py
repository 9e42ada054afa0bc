"""A downstream MTA presenting a self-signed certificate (no CA at all, the usual default
of a fresh MTA install) under `downstream.starttls: required-verified`: the message gets
4xx and nothing reaches the downstream. The same certificate pinned as
`downstream.ca_file` is trusted and the message is relayed, so the refusal is the
certificate check, not a broken TLS set-up. (test_tls.py covers a CA-issued certificate
from an untrusted CA.)"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..helpers.client import message, send
from ..helpers.waits import wait_until
from .test_tls import _TlsSink


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                 x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    assert cert.issuer == cert.subject  # self-signed
    directory.mkdir(parents=True, exist_ok=True)
    c, k = directory / "self-signed.crt", directory / "self-signed.key"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return c, k


@pytest.fixture
async def self_signed_sink(tmp_path: Path) -> AsyncIterator[tuple[_TlsSink, Path]]:
    cert, key = _self_signed(tmp_path / "mta")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    s = _TlsSink(ctx)
    await s.start()
    yield s, cert
    await s.stop()


@pytest.mark.parametrize("pinned", [False, True])
async def test_self_signed_downstream_under_required_verified(
        make_config: Any, start_app: Any, self_signed_sink: tuple[_TlsSink, Path],
        pinned: bool) -> None:
    sink, cert = self_signed_sink
    downstream: dict[str, Any] = {"starttls": "required-verified"}
    if pinned:
        downstream["ca_file"] = str(cert)
    # a generous Redis deadline: this test is about the downstream, not a loaded host
    running = await start_app(make_config(sink, policy={"require_basis": False},
                                          downstream=downstream,
                                          redis={"deadline_ms": 3000}))
    code, text, _ = await send(running.port, ["a@example.org"], message())
    if pinned:
        assert code == 250, text
        await wait_until(lambda: len(sink.received) == 1, within=5, what="delivery")
        assert sink.received[0].rcpts == ["a@example.org"]
    else:
        assert 400 <= code < 500, (code, text)
        assert sink.received == []
        (row,) = running.decisions()
        assert row["verdict"] == "allow", row
        assert row["downstream"] == ("tempfail: downstream unreachable: "
                                     "SSLCertVerificationError"), row
