"""STARTTLS command injection (CVE-2024-34083 style, RELIABILITY H2) on both listeners:
plaintext commands pipelined after STARTTLS in the same TCP segment must be discarded,
never executed inside the TLS session (RFC 3207 §4.2). The probe after the handshake
shows the state: a RCPT needs a MAIL first (503) if the injected MAIL was discarded."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest

from ..helpers.certs import CA
from .conftest import INBOUND


@pytest.fixture
def ca(tmp_path: Any) -> CA:
    return CA(tmp_path / "pki")


def _tls(ca: CA) -> dict[str, Any]:
    leaf = ca.issue("server")
    return {"cert": str(leaf.cert), "key": str(leaf.key)}


async def _inject(port: int, ca: CA, injected: bytes, rcpt: str) -> list[bytes]:
    """STARTTLS + injected plaintext in one write, then inside TLS: EHLO, RCPT, QUIT.
    Returns the reply lines received inside TLS (bounded)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    got: list[bytes] = []
    try:
        async with asyncio.timeout(15):
            assert (await reader.readline()).startswith(b"220")
            writer.write(b"EHLO client.test\r\n")
            while not (line := await reader.readline()).startswith(b"250 "):
                assert line.startswith(b"250-"), line
            writer.write(b"STARTTLS\r\n" + injected)
            await writer.drain()
            assert (await reader.readline()).startswith(b"220")
            await writer.start_tls(ssl.create_default_context(cafile=str(ca.path)))
            writer.write(b"EHLO client.test\r\n")
            while not (line := await reader.readline()).startswith(b"250 "):
                got.append(line)
            got.append(line)
            writer.write(f"RCPT TO:<{rcpt}>\r\nQUIT\r\n".encode())
            for _ in range(10):
                line = await reader.readline()
                if not line:
                    break
                got.append(line)
                if line.startswith(b"221"):
                    break
    finally:
        writer.close()
    return got


INJECTIONS = {
    "mail": b"MAIL FROM:<attacker@evil.example>\r\n",
    "mail+rcpt": b"MAIL FROM:<attacker@evil.example>\r\nRCPT TO:<{rcpt}>\r\n",
    "ehlo+mail": b"EHLO evil.example\r\nMAIL FROM:<attacker@evil.example>\r\n",
    "partial": b"MAIL FROM:<attacker@evil.exa",  # no line end: must not join the next line
}


def _replies_after_ehlo(lines: list[bytes]) -> list[bytes]:
    i = next(i for i, ln in enumerate(lines) if ln.startswith(b"250 "))
    return lines[i + 1:]


@pytest.mark.parametrize("name", list(INJECTIONS))
async def test_submission_discards_plaintext_after_starttls(name: str, make_config: Any,
                                                            sink: Any, start_app: Any,
                                                            ca: CA) -> None:
    running = await start_app(make_config(sink, submission={"tls": _tls(ca)},
                                          policy={"require_basis": False}))
    rcpt = "victim@example.org"
    lines = await _inject(running.port, ca, INJECTIONS[name].replace(b"{rcpt}",
                                                                      rcpt.encode()), rcpt)
    after = _replies_after_ehlo(lines)
    assert after[0].startswith(b"503"), lines  # RCPT without MAIL: the MAIL was discarded
    assert after[-1].startswith(b"221"), lines
    assert sink.received == []


@pytest.mark.parametrize("name", list(INJECTIONS))
async def test_inbound_discards_plaintext_after_starttls(name: str, make_config: Any,
                                                         sink: Any, start_app: Any,
                                                         ca: CA) -> None:
    running = await start_app(make_config(sink, inbound={**INBOUND, "tls": _tls(ca)},
                                          policy={"require_basis": False}))
    rcpt = "antwort@shop.test"
    lines = await _inject(running.app.inbound.ports[0], ca,
                          INJECTIONS[name].replace(b"{rcpt}", rcpt.encode()), rcpt)
    after = _replies_after_ehlo(lines)
    assert after[0].startswith(b"503"), lines
    assert after[-1].startswith(b"221"), lines


async def test_control_the_probe_sees_a_mail_sent_inside_tls(make_config: Any, sink: Any,
                                                             start_app: Any, ca: CA) -> None:
    """Control: the same MAIL sent after the handshake is executed, so 503 above really
    means the injected one was dropped."""
    running = await start_app(make_config(sink, submission={"tls": _tls(ca)},
                                          policy={"require_basis": False}))
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    try:
        async with asyncio.timeout(15):
            await reader.readline()
            writer.write(b"EHLO client.test\r\n")
            while not (await reader.readline()).startswith(b"250 "):
                pass
            writer.write(b"STARTTLS\r\n")
            assert (await reader.readline()).startswith(b"220")
            await writer.start_tls(ssl.create_default_context(cafile=str(ca.path)))
            writer.write(b"EHLO client.test\r\n")
            while not (await reader.readline()).startswith(b"250 "):
                pass
            writer.write(b"MAIL FROM:<news@sender.example>\r\nRCPT TO:<a@example.org>\r\n")
            assert (await reader.readline()).startswith(b"250")
            assert (await reader.readline()).startswith(b"250")
    finally:
        writer.close()
