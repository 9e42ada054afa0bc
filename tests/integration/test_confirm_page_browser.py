"""A real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; no browser
is ever downloaded) opens the confirmation page from a relayed mail's List-Unsubscribe,
clicks the button, and the suppression exists afterwards. Screenshots go to the test's
tmp dir; the confirmation page is also copied to docs/confirm-page.png."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
from pathlib import Path

import pytest

from consentry import headers

from ..helpers.client import message, send
from ..helpers.state import NO_BASIS

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
DOCS = Path(__file__).resolve().parents[2] / "docs"


async def test_chromium_clicks_the_confirm_button_and_the_suppression_exists(
        make_config, sink, start_app, sync_redis, tmp_path):
    assert os.access(CHROMIUM, os.X_OK), "Debian's chromium is needed (make deps-test)"
    from playwright.async_api import async_playwright

    cfg = make_config(sink, policy=NO_BASIS,
                      http={"listen": ["127.0.0.1:0"], "organisation": "Acme Shop",
                            "list_names": {"news": "Acme News"}, "language": "auto"})
    running = await start_app(cfg)
    code, _, _ = await send(running.port, ["max.mustermann@example.org"],
                            message(headers={"X-Consent-Class": "marketing",
                                             "X-Consent-List": "news"}))
    assert code == 250
    m = email.message_from_bytes(sink.received[0].content, policy=email.policy.compat32)
    url = headers.parse_uris(m["List-Unsubscribe"])[0]
    before = dict(sync_redis.hgetall("cs:supp:max.mustermann@example.org"))

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            ctx = await browser.new_context(locale="de-DE", viewport={"width": 720,
                                                                       "height": 520})
            page = await ctx.new_page()
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(msg.text)
                    if msg.type == "error" else None)
            resp = await page.goto(url)
            assert resp is not None and resp.status == 200
            assert await page.locator("html").get_attribute("lang") == "de"
            assert "Acme News" in await page.inner_text("h1")
            # The browser's own GET (plus any prefetch it did) wrote nothing.
            assert sync_redis.hgetall("cs:supp:max.mustermann@example.org") == before
            shot = tmp_path / "confirm-page.png"
            await page.screenshot(path=str(shot), full_page=True)
            button = page.get_by_role("button", name="Abmelden")
            assert await button.is_visible()
            await button.click()
            await page.wait_for_load_state()
            assert "abgemeldet" in await page.inner_text("h1")
            await page.screenshot(path=str(tmp_path / "done-page.png"), full_page=True)
            assert not errors, errors  # the CSP hash matches the inline style: no violations
            assert await ctx.cookies() == []
        finally:
            await browser.close()

    supp = sync_redis.hgetall("cs:supp:max.mustermann@example.org")
    assert list(supp) == ["list:news"]
    assert '"source":"confirm-page"' in supp["list:news"]
    DOCS.mkdir(exist_ok=True)
    shutil.copyfile(shot, DOCS / "confirm-page.png")
    assert shot.stat().st_size > 5000


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's driver must reach 127.0.0.1 directly, whatever the environment says.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
