"""Real Chromium against the embedded flow: the dev stack on two sites, and README screenshots.

``run_embedded_stack`` starts what ``fanvue-embedded dev`` starts, in-process: the emulator on
``127.0.0.1`` addressed as ``http://localhost:<port>`` (the platform site) and the app on
``http://127.0.0.1:<port>`` (another site), so the iframe is cross-site exactly as inside Fanvue.

Run as a module (``scripts/screenshots``) it starts the real ``fanvue-embedded dev`` command and
saves ``docs/screenshots/dev-light.png`` and ``dev-dark.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Frame, Page, Playwright, expect

from tests.support.emulator import EmulatorHandle
from tests.support.servers import free_port, serve_in_thread, spawn, wait_for_port

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)
VIEWPORT = {"width": 1280, "height": 800}
WAIT_MS = 20_000  # generous: a loaded CI machine is slow, a correct page is never this late
APP_FRAME = "[data-testid=app-frame]"
LUNA = "luna.rivers"


def chromium_executable() -> str:
    """Debian's chromium; a clear error (never a skip) when it is missing."""
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError(
            "chromium is not installed: the browser tests drive Debian's 'chromium' package. "
            "Run scripts/setup (it installs chromium with apt) or 'apt-get install chromium'."
        )
    return path


async def launch_chromium(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(
        executable_path=chromium_executable(), args=list(CHROMIUM_ARGS)
    )


@dataclass
class EmbeddedStack:
    """The platform (emulator) and the app, each on its own site."""

    platform_url: str  # http://localhost:<port>: what the browser and the app use
    app_url: str  # http://127.0.0.1:<port>
    embed_url: str  # the registered embed URL (app_url + embed path)
    emulator: EmulatorHandle  # control API client
    app: Any  # the Starlette app: app.state.fanvue holds its services

    def dashboard_url(self, *, theme: str = "light", creator: str = LUNA) -> str:
        return f"{self.platform_url}/?theme={theme}&creator={creator}"


@contextlib.contextmanager
def run_embedded_stack(
    redis_url: str | None = None, webhooks: Any = None, extra_env: dict[str, str] | None = None
) -> Iterator[EmbeddedStack]:
    """The ``dev`` setup on real sockets; Redis-backed when ``redis_url`` is given.

    ``webhooks`` is an optional ``WebhookRegistry`` for the app (the emulator always sends its
    events to the app's ``/webhooks/fanvue``, as ``dev`` registers it). ``extra_env`` adds
    variables to the app's settings (e.g. ``SESSION_COOKIE_NAME``)."""
    from fanvue_embedded.app import create_app
    from fanvue_embedded.cli import dev_environment
    from fanvue_embedded.config import Settings
    from fanvue_embedded.emulator import EmulatorConfig, create_emulator_app

    emulator_port, app_port = free_port(), free_port()
    app_url = f"http://127.0.0.1:{app_port}"
    # localhost vs 127.0.0.1: two different sites, as Fanvue and the app are.
    platform_url = f"http://localhost:{emulator_port}"
    env = dev_environment(app_url=app_url, platform_url=platform_url, redis_url=redis_url)
    env.update(extra_env or {})
    settings = Settings.from_env(env)
    embed_url = f"{app_url}{settings.embed_path}"
    emulator_app = create_emulator_app(
        EmulatorConfig(
            redirect_uris=(env["OAUTH_REDIRECT_URI"],),
            app_url=embed_url,
            issuer=platform_url,
            webhook_url=f"{app_url}/webhooks/fanvue",
        )
    )
    app = create_app(settings, webhooks=webhooks, **_owned_redis_stores(settings))
    with (
        serve_in_thread(emulator_app, host="127.0.0.1", port=emulator_port) as emulator_base,
        serve_in_thread(app, host="127.0.0.1", port=app_port),
    ):
        yield EmbeddedStack(
            platform_url=platform_url,
            app_url=app_url,
            embed_url=embed_url,
            emulator=EmulatorHandle(emulator_base),
            app=app,
        )


def _owned_redis_stores(settings: Any) -> dict[str, Any]:
    """Redis stores that close their own client when the app shuts down.

    ``build_services`` builds the same stores from ``REDIS_URL`` but never closes the client it
    creates, so its sockets outlive a test (a ResourceWarning, an error under
    ``filterwarnings=error``). Same classes, same keys, same Redis: only the ownership differs.
    """
    if settings.redis_url is None:
        return {}
    from fanvue_embedded.crypto import Keyring
    from fanvue_embedded.ephemeral import RedisEphemeralStore
    from fanvue_embedded.store import RedisTokenStore

    url = settings.redis_url.get_secret_value()
    return {
        "store": RedisTokenStore.from_url(url, Keyring(settings.token_encryption_keys)),
        "ephemeral": RedisEphemeralStore.from_url(url),
    }


async def app_frame(page: Page) -> Frame:
    """The dashboard's app iframe (the same Frame object across reloads of its document)."""
    handle = await page.wait_for_selector(APP_FRAME, state="attached", timeout=WAIT_MS)
    assert handle is not None
    frame = await handle.content_frame()
    assert frame is not None, "the app iframe has no content frame"
    return frame


async def wait_for_app_ready(page: Page, *, handle: str = LUNA) -> None:
    """Wait until the embedded app shows ``@handle`` with its profile loaded from /api/me."""
    app = page.frame_locator(APP_FRAME)
    await expect(app.locator("main#app")).to_have_attribute("data-state", "ready", timeout=WAIT_MS)
    await expect(app.get_by_test_id("creator-handle")).to_have_text(f"@{handle}", timeout=WAIT_MS)
    await expect(app.get_by_test_id("profile-card")).to_have_attribute(
        "aria-busy", "false", timeout=WAIT_MS
    )


# --- README screenshots (scripts/screenshots) ---------------------------------------------


async def _screenshot_dashboard(platform_url: str, out_dir: Path) -> list[Path]:
    from playwright.async_api import async_playwright

    written: list[Path] = []
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
            page = await context.new_page()
            await page.goto(f"{platform_url}/?theme=light&creator={LUNA}")
            await wait_for_app_ready(page)
            for theme in ("light", "dark"):
                if theme == "dark":
                    await page.get_by_test_id("theme-toggle").click()
                    frame_html = page.frame_locator(APP_FRAME).locator("html")
                    await expect(frame_html).to_have_attribute("data-theme", "dark")
                    await wait_for_app_ready(page)
                path = out_dir / f"dev-{theme}.png"
                await page.screenshot(path=str(path))
                written.append(path)
            await context.close()
        finally:
            await browser.close()
    return written


def _port_or_free(preferred: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            return free_port()
    return preferred


def take_screenshots(out_dir: Path) -> list[Path]:
    """Start ``fanvue-embedded dev`` on free ports and photograph its dashboard in both themes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # dev's own ports when they are free, so the pictures show the URLs the README names.
    app_port, emulator_port = _port_or_free(8000), _port_or_free(9000)
    command = [
        sys.executable,
        "-m",
        "fanvue_embedded.cli",
        "dev",
        "--port",
        str(app_port),
        "--emulator-port",
        str(emulator_port),
    ]
    # The in-memory store whatever the caller's shell has (an empty REDIS_URL counts as unset).
    env = {"REDIS_URL": ""}
    log_path = out_dir / ".dev.log"
    try:
        with spawn(command, host="127.0.0.1", port=app_port, env=env, log_path=log_path):
            wait_for_port("127.0.0.1", emulator_port)
            return asyncio.run(_screenshot_dashboard(f"http://localhost:{emulator_port}", out_dir))
    finally:
        log_path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="README screenshots of the dev dashboard")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args(argv)
    for path in take_screenshots(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
