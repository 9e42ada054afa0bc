"""H16 end to end: a suppression stored under the canonical key stops every spelling of
the address a client can put in RCPT TO (through the real listener, SMTPUTF8 included),
while an unsuppressed recipient of the same message is relayed."""

from __future__ import annotations

import unicodedata

import pytest

from ..helpers.client import message
from ..helpers.rawsmtp import RawSMTP, dot_terminated
from ..helpers.state import NO_BASIS, suppress

KEY = "jürgen@xn--bcher-kva.de"
NFD = unicodedata.normalize("NFD", "jürgen@bücher.de")
E2E_SPELLINGS = [
    "jürgen@bücher.de",
    "JÜRGEN@BÜCHER.DE",
    "jürgen@xn--bcher-kva.de",
    "Jürgen@XN--BCHER-KVA.DE",
    '"jürgen"@bücher.de',
    "jürgen+news@bücher.de",
    "JÜRGEN+Promo@Bücher.De",
    NFD,
    unicodedata.normalize("NFD", "JÜRGEN@bücher.de"),
]


@pytest.mark.parametrize("rcpt", E2E_SPELLINGS, ids=range(len(E2E_SPELLINGS)))
async def test_every_spelling_of_a_suppressed_address_is_dropped(
        rcpt, make_config, sink, start_app, sync_redis):
    suppress(sync_redis, KEY)
    running = await start_app(make_config(sink, policy=NO_BASIS))
    async with RawSMTP(running.port) as c:
        assert (await c.cmd("EHLO client.test")).code == 250
        assert (await c.cmd("MAIL FROM:<news@sender.example> SMTPUTF8")).code == 250
        assert (await c.cmd(f"RCPT TO:<{rcpt}>")).code == 250
        assert (await c.cmd("RCPT TO:<ok@example.org>")).code == 250
        assert (await c.cmd("DATA")).code == 354
        final = await c.cmd(dot_terminated(message()).removesuffix(b"\r\n"))
    assert final.code == 250, final
    assert sink.delivered_to() == ["ok@example.org"]
    # (aiosmtpd already unquotes '"jürgen"@…', so match the decision by key, not text)
    (row,) = [d for d in running.decisions() if d["recipient"] != "ok@example.org"]
    assert row["verdict"] == "suppress"
    assert row["rule"].startswith("objection")  # the global objection decided it
    assert row["key"] == KEY


async def test_ascii_spellings_without_smtputf8(make_config, sink, start_app, sync_redis):
    suppress(sync_redis, "max.mustermann@example.com")
    running = await start_app(make_config(sink, policy=NO_BASIS))
    spellings = ["Max.Mustermann@Example.COM", '"max.mustermann"@example.com',
                 "MAX.MUSTERMANN+news@EXAMPLE.com", "max.mustermann+a+b@example.com"]
    async with RawSMTP(running.port) as c:
        assert (await c.cmd("EHLO client.test")).code == 250
        assert (await c.cmd("MAIL FROM:<news@sender.example>")).code == 250
        for r in [*spellings, "ok@example.org"]:
            assert (await c.cmd(f"RCPT TO:<{r}>")).code == 250, r
        assert (await c.cmd("DATA")).code == 354
        final = await c.cmd(dot_terminated(message()).removesuffix(b"\r\n"))
    assert final.code == 250, final
    assert sink.delivered_to() == ["ok@example.org"]
    rows = [d for d in running.decisions() if d["recipient"] != "ok@example.org"]
    # Max.Mustermann@ and "max.mustermann"@ are one canonical recipient: counted once.
    assert len(rows) == 3
    assert {(d["verdict"], d["key"]) for d in rows} == {
        ("suppress", "max.mustermann@example.com")}
