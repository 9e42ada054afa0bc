"""TLS on every hop, with a throwaway CA (cryptography) on loopback: STARTTLS and implicit
TLS on the submission listener, minimum version, client certificates, STARTTLS on the
inbound listener, certificate reload on SIGHUP, the STARTTLS command-injection defence
(raw socket), and the downstream policy required-verified."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
import yaml
from aiosmtpd.smtp import SMTP

from consentry import config as config_mod
from consentry import logs
from consentry.app import App
from consentry.errors import ConfigError

from ..helpers.certs import CA
from ..helpers.client import message
from ..helpers.sink import Sink, SinkHandler
from ..helpers.waits import wait_until


@pytest.fixture
def ca(tmp_path: Path) -> CA:
    return CA(tmp_path / "pki")


def _client_ctx(ca: CA, **kw: Any) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca.path))
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def _tls(ca: CA, **extra: Any) -> dict[str, Any]:
    leaf = ca.issue("server")
    return {"cert": str(leaf.cert), "key": str(leaf.key), **extra}


async def _send_tls(port: int, ctx: ssl.SSLContext, *, implicit: bool = False,
                    cert: Path | None = None, key: Path | None = None) -> str:
    if cert is not None and key is not None:
        ctx.load_cert_chain(str(cert), str(key))
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10, tls_context=ctx,
                           use_tls=implicit, start_tls=not implicit)
    await smtp.connect()
    try:
        assert smtp.get_transport_info("sslcontext") is not None or implicit
        await smtp.sendmail("news@sender.example", ["a@example.org"], message())
        ssl_obj = smtp.get_transport_info("ssl_object")
        return str(ssl_obj.version()) if ssl_obj is not None else "?"
    finally:
        await smtp.quit()


async def test_starttls_and_implicit_tls_on_the_submission_listener(
        make_config: Any, sink: Sink, start_app: Any, ca: CA) -> None:
    running = await start_app(make_config(sink, policy={"require_basis": False}, submission={
        "tls": _tls(ca, require_starttls=True), "tls_listen": ["127.0.0.1:0"]}))
    plain, implicit = running.app.ports
    # EHLO advertises STARTTLS; without it every transaction command gets 530
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=plain, timeout=10, start_tls=False)
    await smtp.connect()
    ehlo = await smtp.ehlo()
    assert "STARTTLS" in ehlo.message
    r = await smtp.execute_command(b"MAIL", b"FROM:<news@sender.example>")
    assert r.code == 530, r
    await smtp.quit()
    assert await _send_tls(plain, _client_ctx(ca)) in ("TLSv1.2", "TLSv1.3")
    assert await _send_tls(implicit, _client_ctx(ca), implicit=True) in ("TLSv1.2", "TLSv1.3")
    assert len(sink.received) == 2


async def test_min_version_and_client_certificates(
        make_config: Any, sink: Sink, start_app: Any, ca: CA) -> None:
    client = ca.issue("client", cn="sender-app", client=True)
    running = await start_app(make_config(sink, policy={"require_basis": False}, submission={
        "tls": _tls(ca, min_version="TLSv1.3", client_ca=str(ca.path))}))
    port = running.port
    # a TLS 1.2-only client cannot complete the handshake
    with pytest.raises((aiosmtplib.SMTPException, ssl.SSLError, ConnectionError)):
        await _send_tls(port, _client_ctx(ca, maximum_version=ssl.TLSVersion.TLSv1_2),
                        cert=client.cert, key=client.key)
    # no client certificate: refused (TLS 1.3 reports it on the first read)
    with pytest.raises((aiosmtplib.SMTPException, ssl.SSLError, ConnectionError)):
        await _send_tls(port, _client_ctx(ca))
    assert sink.received == []
    assert await _send_tls(port, _client_ctx(ca), cert=client.cert,
                           key=client.key) == "TLSv1.3"
    assert len(sink.received) == 1


@pytest.mark.parametrize(("injected", "probe", "probe_reply"), [
    (b"RSET", b"HELP", b"250 Supported commands"),  # RELIABILITY H2's exact bytes
    (b"HELP", b"NOOP", b"250 OK\r\n"),
])
async def test_starttls_injection_is_not_executed(
        make_config: Any, sink: Sink, start_app: Any, ca: CA, injected: bytes,
        probe: bytes, probe_reply: bytes) -> None:
    running = await start_app(make_config(sink, submission={"tls": _tls(ca)}))
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    try:
        async with asyncio.timeout(10):
            assert (await reader.readline()).startswith(b"220")
            writer.write(b"EHLO client.test\r\n")
            while not (line := await reader.readline()).startswith(b"250 "):
                assert line.startswith(b"250-"), line
            # one TCP segment: STARTTLS plus a plaintext command an attacker injected
            writer.write(b"STARTTLS\r\n" + injected + b"\r\n")
            await writer.drain()
            assert (await reader.readline()).startswith(b"220")
            await writer.start_tls(_client_ctx(ca))
            writer.write(probe + b"\r\n")
            first = await reader.readline()
            # the first reply inside TLS answers the probe: the injected command was discarded
            assert first.startswith(probe_reply), first
            writer.write(b"QUIT\r\n")
            assert (await reader.readline()).startswith(b"221")
            assert await reader.read() == b""
    finally:
        writer.close()


async def test_starttls_on_the_inbound_listener(
        make_config: Any, sink: Sink, start_app: Any, ca: CA) -> None:
    running = await start_app(make_config(sink, inbound={
        "enabled": True, "listen": ["127.0.0.1:0"], "domain": "bounces.example",
        "tls": _tls(ca, require_starttls=True)}))
    port = running.app.inbound.ports[0]
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10, start_tls=False)
    await smtp.connect()
    assert "STARTTLS" in (await smtp.ehlo()).message
    r = await smtp.execute_command(b"MAIL", b"FROM:<>")
    assert r.code == 530, r
    await smtp.starttls(tls_context=_client_ctx(ca))
    await smtp.ehlo()
    assert (await smtp.mail("")).code == 250
    await smtp.quit()


async def test_sighup_loads_new_certificates_without_dropping_sessions(
        tmp_path: Path, redis_url: str, sink: Sink, ca: CA) -> None:
    first = ca.issue("first")
    data = {
        "server": {"hostname": "consentry.test", "state_dir": str(tmp_path / "var")},
        "submission": {"listen": ["127.0.0.1:0"],
                       "tls": {"cert": str(first.cert), "key": str(first.key)}},
        "redis": {"embedded": False, "url": redis_url, "deadline_ms": 2000},
        "downstream": {"host": "127.0.0.1", "port": sink.port},
        "http": {"enabled": False},
        "log": {"decision_log": str(tmp_path / "decisions.jsonl"), "format": "json"},
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    cfg = config_mod.load(path)
    logs.setup(cfg.log, cfg.base_dir)
    app = App(cfg, str(path))
    await app.start()
    try:
        async def serial() -> tuple[int, aiosmtplib.SMTP]:
            smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=app.ports[0], timeout=10,
                                   tls_context=_client_ctx(ca))
            await smtp.connect()
            der = smtp.get_transport_info("ssl_object").getpeercert(binary_form=True)
            from cryptography import x509

            return x509.load_der_x509_certificate(der).serial_number, smtp

        s1, old_session = await serial()
        assert s1 == first.serial
        second = ca.issue("second")
        data["submission"]["tls"] = {"cert": str(second.cert), "key": str(second.key)}
        path.write_text(yaml.safe_dump(data))
        app.reload()
        s2, new_session = await serial()
        assert s2 == second.serial
        assert (await old_session.noop()).code == 250  # the open session is untouched
        # a broken certificate is refused, the running one stays
        (tmp_path / "broken.pem").write_text("not a certificate")
        data["submission"]["tls"] = {"cert": str(tmp_path / "broken.pem"),
                                     "key": str(second.key)}
        path.write_text(yaml.safe_dump(data))
        app.reload()
        s3, third_session = await serial()
        assert s3 == second.serial
        for s in (old_session, new_session, third_session):
            await s.quit()
    finally:
        await app.stop(5)
    rows = [yaml.safe_load(x) for x in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    refused = [r for r in rows if r.get("event") == "reload_refused"]
    assert len(refused) == 1 and "submission.tls.cert" in refused[0]["reason"], refused


class _TlsSink(Sink):
    """The test sink, but offering (and requiring) STARTTLS with the given certificate."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        super().__init__()
        self.ctx = ctx

    async def start(self) -> None:
        handler: SinkHandler = self.handler

        def factory() -> SMTP:
            return SMTP(handler, hostname="tls-sink.test", decode_data=False,
                        tls_context=self.ctx, require_starttls=True)

        self.server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]


@pytest.fixture
async def tls_sink(ca: CA) -> AsyncIterator[_TlsSink]:
    leaf = ca.issue("downstream")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(leaf.cert), str(leaf.key))
    s = _TlsSink(ctx)
    await s.start()
    yield s
    await s.stop()


@pytest.mark.parametrize("trust_ca", [False, True])
async def test_downstream_required_verified(
        make_config: Any, start_app: Any, tls_sink: _TlsSink, ca: CA, trust_ca: bool) -> None:
    from ..helpers.client import send

    downstream: dict[str, Any] = {"starttls": "required-verified"}
    if trust_ca:
        downstream["ca_file"] = str(ca.path)
    running = await start_app(make_config(tls_sink, policy={"require_basis": False},
                                          downstream=downstream))
    code, text, _ = await send(running.port, ["a@example.org"], message())
    if trust_ca:
        assert code == 250, text
        await wait_until(lambda: len(tls_sink.received) == 1, within=5, what="delivery")
    else:
        # the downstream's certificate is not trusted: 4xx, nothing delivered
        assert 400 <= code < 500, (code, text)
        assert tls_sink.received == []


def test_tls_config_errors_name_the_key(tmp_path: Path) -> None:
    cases = [
        ({"downstream": {"starttls": "required-verified", "validate_certs": False}},
         "downstream.validate_certs"),
        ({"submission": {"tls": {"cert": "x.pem"}}}, "submission.tls.key"),
        ({"submission": {"tls_listen": ["127.0.0.1:0"]}}, "submission.tls_listen"),
        ({"inbound": {"tls": {"require_starttls": True}}}, "inbound.tls.cert"),
        ({"submission": {"tls": {"cert": "a", "key": "b", "min_version": "TLSv1.0"}}},
         "submission.tls.min_version"),
    ]
    for data, key in cases:
        with pytest.raises(ConfigError) as exc:
            config_mod.from_mapping(data, base_dir=str(tmp_path))
        assert key in str(exc.value), (data, exc.value)


def test_non_loopback_listener_without_tls_is_recognised() -> None:
    from consentry.app import _loopback

    assert _loopback("127.0.0.1") and _loopback("::1") and _loopback("localhost")
    assert not _loopback("0.0.0.0") and not _loopback("192.0.2.1") and not _loopback("::")
