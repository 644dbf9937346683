"""The browser package in ``frontend/``: ready to publish, served by the wheel at a stable URL,
and its hand-written types check against a consumer with TypeScript (slow: fetches tsc)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from fanvue_embedded import __version__
from fanvue_embedded.app.page import frontend_directory

FRONTEND = Path(__file__).resolve().parent.parent / "frontend"


def package() -> dict[str, object]:
    loaded: dict[str, object] = json.loads((FRONTEND / "package.json").read_text())
    return loaded


def test_package_json_is_ready_to_publish() -> None:
    manifest = package()
    assert manifest["name"] == "@fanvue-embedded/client"
    assert manifest["version"] == __version__, "the npm and Python packages version together"
    assert manifest["type"] == "module"
    exports = manifest["exports"]
    assert isinstance(exports, dict)
    files = manifest["files"]
    assert isinstance(files, list)
    for entry in (".", "./react"):
        target = exports[entry]
        for kind in ("types", "default"):
            path = FRONTEND / target[kind]
            assert path.is_file(), path
            assert path.name in files
    # React is a peer of the hook's entry point only: the core never imports it.
    assert "dependencies" not in manifest
    assert manifest["peerDependencies"] == {"react": ">=18"}
    assert "react" not in (FRONTEND / "fanvue-embedded.js").read_text().split("\n// ")[0]
    assert 'from "react"' not in (FRONTEND / "fanvue-embedded.js").read_text()
    assert 'from "react"' in (FRONTEND / "react.js").read_text()


def test_the_demo_page_uses_the_package_and_the_wheel_serves_it() -> None:
    assert 'from "./fanvue-embedded.js"' in (FRONTEND / "app.js").read_text()
    # The directory the app serves below <embed path>/static/ holds the same file.
    served = frontend_directory() / "fanvue-embedded.js"
    assert served.read_bytes() == (FRONTEND / "fanvue-embedded.js").read_bytes()


CONSUMER = """
import {
  applyTheme, createEmbeddedAuth, getThemeFromUrl, takeSessionToken,
  type CreatorProfile, type EmbeddedAuth, type SessionSnapshot, type Theme,
} from "@fanvue-embedded/client";
import { useFanvueSession, type FanvueSession } from "@fanvue-embedded/client/react";

const theme: Theme | null = getThemeFromUrl("https://x.test/?theme=dark");
const applied: Theme | null = applyTheme(theme);
const token: string | null = takeSessionToken();
const auth: EmbeddedAuth = createEmbeddedAuth({
  baseUrl: "/fanvue",
  sessionMode: "bearer",
  getSessionToken: async () => null,
});
async function use(): Promise<void> {
  const ok: boolean = await auth.exchange(token);
  const response: Response = await auth.fetch("/api/me", { method: "GET" });
  const snapshot: SessionSnapshot = auth.getSnapshot();
  const creator: CreatorProfile | null = snapshot.creator;
  const stop: () => void = auth.subscribe((a) => void a.status);
  stop();
  // @ts-expect-error status is a string union, not a number
  const wrong: number = auth.status;
  // @ts-expect-error only "light" | "dark" | null
  applyTheme("blue");
  void [ok, response, creator, wrong, applied];
}
function Component(): FanvueSession {
  const session = useFanvueSession({ baseUrl: "", autoStart: false });
  // @ts-expect-error the error is a known code or null
  const error: "oops" = session.error;
  void error;
  return session;
}
void [use, Component];
"""

TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "noEmit": True,
        "target": "es2022",
        "module": "nodenext",
        "moduleResolution": "nodenext",
        "lib": ["es2022", "dom"],
        "skipLibCheck": False,
        "types": [],
    },
    "files": ["consumer.mts"],
}


@pytest.mark.slow
def test_the_type_declarations_check_with_typescript(tmp_path: Path) -> None:
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("node/npx is not installed: the TypeScript check needs it")
    installed = tmp_path / "node_modules" / "@fanvue-embedded" / "client"
    shutil.copytree(FRONTEND, installed)  # as npm would install it
    (tmp_path / "package.json").write_text('{"type": "module", "private": true}')
    (tmp_path / "consumer.mts").write_text(CONSUMER)
    (tmp_path / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    result = subprocess.run(
        [npx, "-y", "-p", "typescript@5", "tsc", "-p", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
