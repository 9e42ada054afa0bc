"""Malformed and deeply nested MIME (RELIABILITY H9/H10) through both paths that parse
content: the relay's rewrite (tracking strip walks the MIME tree, List-Unsubscribe is
added, DKIM signs the result) and the inbound classifier (bounce/complaint/reply
detection). Each message is answered within a bound - relayed with a valid signature
over exactly the delivered bytes, or refused with 5xx - and the daemon keeps serving;
the inbound processor finishes every accepted message without crashing."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import dkim as dkimpy
import pytest

from consentry import dkim, headers, rawmsg
from consentry.rawmsg import find_bare_newlines

from ..helpers.client import send
from ..helpers.state import NO_BASIS
from .conftest import INBOUND, inbound_idle, issue_token, spooled, well_behaved
from .mimebombs import CASES

# deeper than the MIME walker follows, more parts than it counts, or an HTML part it
# cannot decode: a pixel could hide there, so recipients without tracking consent get none
UNCHECKABLE = {"nested-1000", "nested-40", "parts-5000", "broken-base64", "broken-qp",
               "charset-mismatch", "charset-rot13", "charset-base64-codec", "charset-idna"}
# a NUL byte anywhere is refused by the relay before any parsing (550 5.6.0)
REFUSED_RAW = {"charset-nul", "dsn-nul-charset", "rfc2231-nul-charset-boundary"}


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("dkim") / "isp.example.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(p), "2048"], check=True,
                   capture_output=True)
    return p


@pytest.fixture(scope="module")
def dkim_txt(dkim_key: Path) -> bytes:
    return dkim.public_key_record(dkim_key.read_bytes())


@pytest.fixture
async def relay(make_config: Any, sink: Any, start_app: Any, dkim_key: Path) -> Any:
    return await start_app(make_config(
        sink, policy=NO_BASIS, unsubscribe={"mailto_domain": "bounce.isp.example"},
        dkim={"enabled": True, "keys": [{"domain": "isp.example", "selector": "s1",
                                         "private_key_file": str(dkim_key)}]},
        tracking={"hosts": ["t.example"]}))


async def test_hostile_mime_through_the_relay_rewrite_and_dkim(relay: Any, sink: Any,
                                                              dkim_txt: bytes) -> None:
    txt = dkim_txt

    def dns(name: bytes, timeout: float = 5) -> bytes | None:
        return txt if name.lower().rstrip(b".") == b"s1._domainkey.isp.example" else None

    outcome: dict[str, int] = {}
    for name, content in CASES.items():
        before = len(sink.received)
        async with asyncio.timeout(30):  # a hang fails here, whatever the reason
            code, text, _ = await send(relay.port, [f"{name}@example.org"], content,
                                       mail_from="news@isp.example")
        outcome[name] = code
        assert code == 250 or 500 <= code < 600, (name, code, text)
        if code != 250:
            assert len(sink.received) == before, name
            continue
        (got,) = sink.received[before:]
        assert got.rcpts == [f"{name}@example.org"]
        assert find_bare_newlines(got.content) == 0, name
        # header fields read on bytes (the stdlib parser itself recurses on 1000 levels)
        lu = [f.value() for f in rawmsg.parse(got.content).fields
              if f.lname == "list-unsubscribe"]
        assert len(lu) == 1, name
        assert len(headers.parse_uris(lu[0])) == 2, (name, lu)
        # no open pixel reaches a recipient without tracking consent, however hidden
        assert b"t.example/o.gif" not in got.content, name
        # the signature covers exactly the bytes delivered, whatever the MIME tree
        assert dkimpy.verify(got.content, dnsfunc=dns), name
    # the daemon is still healthy for an ordinary client
    code, _ = await well_behaved(relay.port)
    assert code == 250
    decided = {d["recipient"] for d in relay.decisions()}
    assert {f"{n}@example.org" for n, c in outcome.items() if c == 250} <= decided
    # what the walker cannot fully check for tracking is refused, the rest relayed
    refused = {n for n, c in outcome.items() if c != 250}
    assert refused == UNCHECKABLE | REFUSED_RAW, outcome
    assert all(outcome[n] == 554 for n in UNCHECKABLE)
    assert all(outcome[n] == 550 for n in REFUSED_RAW)


@pytest.fixture
async def inbound(make_config: Any, sink: Any, start_app: Any) -> Any:
    running = await start_app(make_config(sink, inbound={**INBOUND, "classify_timeout": 10},
                                          policy=NO_BASIS,
                                          unsubscribe={"mailto_domain": "shop.test"}))
    running.inbound_port = running.app.inbound.ports[0]
    return running


async def test_hostile_mime_through_inbound_classification(inbound: Any, sink: Any,
                                                           sync_redis: Any) -> None:
    tok = await issue_token(inbound, "kunde@isp.example", purpose="bounce")
    targets = ["antwort@shop.test", f"bounces+{tok}@bounce.shop.test"]
    accepted = 0
    refused_names: set[str] = set()
    for name, content in CASES.items():
        for rcpt in targets:
            async with asyncio.timeout(30):
                code, text, refused = await send(inbound.inbound_port, [rcpt], content,
                                                 mail_from="" if "bounces" in rcpt
                                                 else "kunde@isp.example")
            assert not refused, (name, refused)
            assert code == 250 or code == 554, (name, code, text)
            accepted += code == 250
            if code == 554:
                assert "limits" in text, (name, text)
                refused_names.add(name)
    async with asyncio.timeout(120):
        await inbound_idle(inbound)
    assert spooled(inbound) == []  # every accepted message finished, none stuck retrying
    assert sync_redis.xlen("cs:inbound") == accepted
    log = inbound.log_path.read_text()
    assert "inbound_process_crashed" not in log
    assert "inbound_classifier_error" not in log  # the classifier itself never raised
    # only the bombs are refused (before acceptance); the merely broken are processed
    assert refused_names == {"nested-1000", "parts-5000"}, refused_names
    kinds = [json.loads(line).get("kind") for line in log.splitlines()
             if '"event": "inbound"' in line or '"event":"inbound"' in line]
    assert len(kinds) == accepted, kinds
    # still serving
    code, _, _ = await send(inbound.inbound_port, ["antwort@shop.test"], CASES["nested-40"],
                            mail_from="kunde@isp.example")
    assert code in (250, 554)
