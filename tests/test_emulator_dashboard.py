"""The dashboard's agency toggle in real Chromium, against an emulator on a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from fanvue_embedded.emulator import EmulatorConfig, create_emulator_app
from tests.support.browser import launch_chromium
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.anyio
WAIT_MS = 10_000


@pytest.fixture
async def dashboard() -> AsyncIterator[str]:
    with serve_in_thread(create_emulator_app(EmulatorConfig())) as url:
        yield url


async def test_agency_toggle(dashboard: str) -> None:
    async with async_playwright() as playwright:
        try:
            browser = await launch_chromium(playwright)
        except RuntimeError as exc:  # chromium missing: a failure, never a skip
            pytest.fail(str(exc))
        try:
            page = await browser.new_page()
            await page.goto(f"{dashboard}/?creator=luna.rivers")
            status = page.get_by_test_id("agency-status")
            await expect(status).to_have_text("not an agency", timeout=WAIT_MS)
            await page.get_by_test_id("agency-toggle").click()
            await expect(status).to_have_text("agency · manages 1", timeout=WAIT_MS)
            async with httpx.AsyncClient(base_url=dashboard) as client:
                view = (await client.get("/_emulator/creators/luna.rivers/agency")).json()
            assert view["agency"] is True
            assert len(view["manages"]) == 1
            await page.get_by_test_id("agency-toggle").click()
            await expect(status).to_have_text("not an agency", timeout=WAIT_MS)
        finally:
            await browser.close()
