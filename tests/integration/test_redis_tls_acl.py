"""Redis over TLS (rediss://, redis-py's URL options) with an ACL user in the URL, against
a real redis-server (Debian's is built with TLS) on loopback with the default user off:
messages are checked and relayed; a wrong password fails closed (451); the password is
never logged."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..helpers.certs import CA
from ..helpers.client import message, send
from ..helpers.redis_proc import free_port
from ..helpers.sink import Sink
from ..helpers.waits import wait_until_sync

SECRET = "s3cret-acl-pw"  # noqa: S105 - a test credential


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed")
    ca = CA(tmp_path / "rpki")
    leaf = ca.issue("redis")
    port = free_port()
    data = tmp_path / "rdata"
    data.mkdir()
    conf = tmp_path / "redis.conf"
    conf.write_text("\n".join([
        "port 0", "bind 127.0.0.1", f"tls-port {port}", f"tls-cert-file {leaf.cert}",
        f"tls-key-file {leaf.key}", f"tls-ca-cert-file {ca.path}", "tls-auth-clients no",
        'save ""', "appendonly no", f"dir {data}", "user default off",
        f"user consentry on >{SECRET} ~* &* +@all", ""]))
    proc = subprocess.Popen(["redis-server", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        import socket

        def up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return True
            except OSError:
                return False

        wait_until_sync(up, within=10, what="TLS redis-server")
        yield port, ca.path
    finally:
        proc.terminate()
        proc.wait(10)


async def test_rediss_with_acl_user(make_config: Any, sink: Sink, start_app: Any,
                                    tls_redis: tuple[int, Path]) -> None:
    port, ca = tls_redis
    url = f"rediss://consentry:{SECRET}@127.0.0.1:{port}/0?ssl_ca_certs={ca}"
    running = await start_app(make_config(sink, policy={"require_basis": False},
                                          redis={"url": url}))
    code, text, _ = await send(running.port, ["a@example.org"], message())
    assert code == 250, text
    assert len(sink.received) == 1
    log = running.log_path.read_text()
    assert SECRET not in log and "rediss://***@127.0.0.1" in log


async def test_rediss_wrong_password_fails_closed(make_config: Any, sink: Sink,
                                                  start_app: Any,
                                                  tls_redis: tuple[int, Path]) -> None:
    port, ca = tls_redis
    url = f"rediss://consentry:wrong@127.0.0.1:{port}/0?ssl_ca_certs={ca}"
    running = await start_app(make_config(sink, policy={"require_basis": False},
                                          redis={"url": url}))
    code, text, _ = await send(running.port, ["a@example.org"], message())
    assert code == 451, text
    assert sink.received == []
