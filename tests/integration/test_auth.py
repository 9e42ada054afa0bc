"""SMTP AUTH on the submission listener: only after TLS, scrypt credentials written by
`consentry user add` (real subprocess), per-user envelope senders, relay from outside
client_networks when authenticated, failed attempts rate-limited per IP."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
import yaml

from consentry import auth

from ..helpers.certs import CA
from ..helpers.client import message
from ..helpers.daemon import CONSENTRY
from ..helpers.sink import Sink

PASSWORD = "correct horse battery"  # noqa: S105 - a test credential


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Written by the real CLI, password on stdin; it must never be echoed."""
    tmp_path = tmp_path_factory.mktemp("users")
    cfg = tmp_path / "cli.yaml"
    path = tmp_path / "users.json"
    cfg.write_text(yaml.safe_dump({"submission": {"auth": {"users_file": str(path)}},
                                   "server": {"state_dir": str(tmp_path / "var")}}))
    r = subprocess.run([*CONSENTRY, "-c", str(cfg), "user", "add", "newsletter",
                        "--sender", "*@sender.example", "--password-stdin"],
                       input=PASSWORD + "\n", capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 0, r.stderr
    assert PASSWORD not in r.stdout + r.stderr
    assert "newsletter" in r.stdout
    assert os.stat(path).st_mode & 0o777 == 0o600
    stored = json.loads(path.read_text())["users"]["newsletter"]
    assert PASSWORD not in path.read_text()
    assert stored["senders"] == ["*@sender.example"]
    assert auth.verify_password(PASSWORD.encode(), stored["password"])
    assert not auth.verify_password(b"wrong", stored["password"])
    return path


def _cfg(make_config: Any, sink: Sink, ca: CA, users_file: Path, **sub: Any) -> Any:
    leaf = ca.issue("server")
    return make_config(sink, policy={"require_basis": False}, submission={
        "tls": {"cert": str(leaf.cert), "key": str(leaf.key)},
        "auth": {"users_file": str(users_file), "max_failures": 3, "failure_delay": 0.2},
        **sub})


def _ctx(ca: CA) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca.path))


async def test_auth_only_after_tls(make_config: Any, sink: Sink, start_app: Any,
                                   tmp_path: Path, users_file: Path) -> None:
    ca = CA(tmp_path / "pki")
    running = await start_app(_cfg(make_config, sink, ca, users_file))
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=running.port, timeout=10,
                           start_tls=False)
    await smtp.connect()
    ehlo = await smtp.ehlo()
    assert "AUTH" not in ehlo.message and "STARTTLS" in ehlo.message
    r = await smtp.execute_command(b"AUTH", b"PLAIN", b"AG5ld3NsZXR0ZXIAeA==")
    assert r.code == 538, r  # encryption required
    await smtp.starttls(tls_context=_ctx(ca))
    ehlo = await smtp.ehlo()
    assert "AUTH LOGIN PLAIN" in ehlo.message
    assert (await smtp.login("newsletter", PASSWORD)).code == 235
    await smtp.quit()


async def test_authenticated_client_relays_from_outside_client_networks(
        make_config: Any, sink: Sink, start_app: Any, tmp_path: Path,
        users_file: Path) -> None:
    ca = CA(tmp_path / "pki")
    running = await start_app(_cfg(make_config, sink, ca, users_file,
                                   client_networks=["127.0.0.1/32"]))

    async def session() -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=running.port, timeout=10,
                               tls_context=_ctx(ca), source_address=("127.0.0.2", 0))
        await smtp.connect()
        return smtp

    smtp = await session()  # 127.0.0.2 is not in client_networks: no relay without AUTH
    await smtp.mail("news@sender.example")
    with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
        await smtp.rcpt("a@example.org")
    assert refused.value.code == 550
    await smtp.quit()

    smtp = await session()
    await smtp.login("newsletter", PASSWORD)
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as not_owned:
        await smtp.mail("someone@elsewhere.example")
    assert not_owned.value.code == 553 and "5.7.1" in not_owned.value.message
    await smtp.rset()
    errors, _ = await smtp.sendmail("news@sender.example", ["a@example.org"], message())
    assert errors == {}
    await smtp.quit()
    assert [m.rcpts for m in sink.received] == [["a@example.org"]]


async def test_wrong_credentials_are_rate_limited(
        make_config: Any, sink: Sink, start_app: Any, tmp_path: Path,
        users_file: Path) -> None:
    ca = CA(tmp_path / "pki")
    running = await start_app(_cfg(make_config, sink, ca, users_file))

    async def session() -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=running.port, timeout=10,
                               tls_context=_ctx(ca))
        await smtp.connect()
        await smtp.ehlo()
        return smtp

    smtp = await session()
    t0 = time.monotonic()
    for _ in range(2):
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as bad:
            await smtp.auth_plain("newsletter", "wrong password")
        assert bad.value.code == 535
    # the third failure within the window: 535, then (after the delay) 421 and closed
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as bad:
        await smtp.auth_login("newsletter", "wrong password")
    assert bad.value.code == 535
    with pytest.raises(aiosmtplib.SMTPResponseException) as cut:
        await smtp.noop()
    assert cut.value.code == 421 and "failed authentication" in cut.value.message
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await smtp.noop()
    assert time.monotonic() - t0 >= 0.4  # each failure cost the delay
    smtp.close()
    # the IP stays blocked: even the right password gets 421 now
    smtp = await session()
    with pytest.raises((aiosmtplib.SMTPResponseException,
                        aiosmtplib.SMTPServerDisconnected)) as blocked:
        await smtp.auth_plain("newsletter", PASSWORD)
    if isinstance(blocked.value, aiosmtplib.SMTPResponseException):
        assert blocked.value.code == 421, blocked.value
    smtp.close()
    assert sink.received == []


async def test_implicit_tls_offers_auth(make_config: Any, sink: Sink, start_app: Any,
                                        tmp_path: Path, users_file: Path) -> None:
    ca = CA(tmp_path / "pki")
    running = await start_app(_cfg(make_config, sink, ca, users_file,
                                   tls_listen=["127.0.0.1:0"]))
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=running.app.ports[1], timeout=10,
                           tls_context=_ctx(ca), use_tls=True)
    await smtp.connect()
    assert (await smtp.login("newsletter", PASSWORD)).code == 235
    await smtp.quit()
