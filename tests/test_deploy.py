"""deploy/: the container, compose, Caddy and Kubernetes files agree with the code, and the
Dockerfile's CMD really serves the embedded page over HTTPS behind Caddy (real Caddy, real
Chromium, real Redis, the emulator as Fanvue).

Docker and a cluster are not available to the suite, so the images and manifests are checked
by parsing them; what can run without them (the CMD, the Caddy configuration) is run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_SESSION_SECRET
from fanvue_embedded.config import Settings
from fanvue_embedded.crypto import generate_key
from fanvue_embedded.errors import ConfigurationError
from tests.support.browser import CHROMIUM_ARGS, WAIT_MS, chromium_executable
from tests.support.emulator import EmulatorHandle
from tests.support.servers import free_port, spawn

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
PACKAGE = ROOT / "fanvue_embedded"

EXPECTED_CMD = [
    "fanvue-embedded",
    "serve",
    "--host",
    "0.0.0.0",
    "--port",
    "8000",
    "--proxy-headers",
    "--forwarded-allow-ips",
    "*",
]
# Read outside Settings: the log setup in app_from_env, and Caddy's site address.
NAMES_OUTSIDE_SETTINGS = {"LOG_LEVEL", "LOG_FORMAT", "DOMAIN"}
SECRET_NAMES = {
    "OAUTH_CLIENT_SECRET",
    "SESSION_SECRET",
    "TOKEN_ENCRYPTION_KEYS",
    "FANVUE_WEBHOOK_SECRET",
    "REDIS_URL",
}
REQUIRED_SECRET_KEYS = {
    "OAUTH_CLIENT_ID",
    "OAUTH_CLIENT_SECRET",
    "SESSION_SECRET",
    "TOKEN_ENCRYPTION_KEYS",
    "REDIS_URL",
}


# --- reading the files ----------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    pairs = []
    for line in logical:
        word, _, rest = line.partition(" ")
        pairs.append((word.upper(), rest.strip()))
    return pairs


def dockerfile_cmd() -> list[str]:
    commands = [args for word, args in dockerfile_instructions() if word == "CMD"]
    assert len(commands) == 1, "the Dockerfile must have exactly one CMD"
    parsed = json.loads(commands[0])  # exec form only: a shell form would swallow signals
    assert isinstance(parsed, list)
    return [str(item) for item in parsed]


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def compose() -> dict[str, Any]:
    data = load_yaml(DEPLOY / "compose.yaml")
    assert isinstance(data, dict)
    return data


def env_example() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example line without '=': {line!r}"
            values[name.strip()] = value.strip()
    return values


def k8s_documents() -> dict[str, dict[str, Any]]:
    """Every manifest by ``<kind>/<name>``."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found[f"{document['kind']}/{document['metadata']['name']}"] = document
    return found


def containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["spec"]["template"]["spec"]["containers"])


class _RecordingEnv(dict[str, str]):
    """A mapping that remembers every name ``Settings.from_env`` asks it for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)


def known_names() -> set[str]:
    """Every environment variable the service reads.

    Three sources, united: the names ``Settings.from_env`` actually asks for (recorded), the
    literal ``get("X")``/``require("X")`` calls in config.py, and ``environ.get("X")`` reads
    anywhere in the package (LOG_LEVEL, LOG_FORMAT, a worker's own settings).
    """
    recorder = _RecordingEnv(
        {
            "FANVUE_EMBEDDED_MODE": "development",
            "OAUTH_CLIENT_ID": DEV_CLIENT_ID,
            "OAUTH_CLIENT_SECRET": DEV_CLIENT_SECRET,
            "OAUTH_REDIRECT_URI": "http://127.0.0.1:8000/oauth/callback",
            "SESSION_SECRET": DEV_SESSION_SECRET,
        }
    )
    Settings.from_env(recorder)
    config_source = (PACKAGE / "config.py").read_text()
    literal = set(re.findall(r"\b(?:get|require)\(\"([A-Z][A-Z0-9_]+)\"\)", config_source))
    elsewhere: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        elsewhere |= set(
            re.findall(r"environ(?:\.get\(|\[)\"([A-Z][A-Z0-9_]+)\"", path.read_text())
        )
    return recorder.asked | literal | elsewhere | NAMES_OUTSIDE_SETTINGS


def names_used_in_deploy() -> dict[str, set[str]]:
    """Environment variable names each deploy file sets or interpolates, by file."""
    used: dict[str, set[str]] = {}
    compose_text = (DEPLOY / "compose.yaml").read_text()
    in_compose = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", compose_text))
    for service in compose()["services"].values():
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        in_compose |= set(environment)
    used["compose.yaml"] = in_compose
    used[".env.example"] = set(env_example())
    used["Caddyfile"] = set(re.findall(r"\{\$([A-Za-z_][A-Za-z0-9_]*)", caddyfile_text()))
    for path in sorted(K8S.glob("*.yaml")):
        names: set[str] = set()
        for document in yaml.safe_load_all(path.read_text()):
            if not document:
                continue
            if document["kind"] == "Secret":
                names |= set(document.get("stringData") or {}) | set(document.get("data") or {})
            if document["kind"] == "Deployment":
                for container in containers(document):
                    names |= {item["name"] for item in container.get("env", [])}
        used[f"k8s/{path.name}"] = names
    return used


def caddyfile_text() -> str:
    return (DEPLOY / "Caddyfile").read_text()


def caddy_binary() -> str:
    """Debian's caddy; a clear failure (never a skip) when it is missing."""
    path = shutil.which("caddy") or ("/usr/bin/caddy" if Path("/usr/bin/caddy").exists() else None)
    if path is None:
        pytest.fail(
            "caddy is not installed: the deploy tests run it. Run scripts/setup (it installs "
            "caddy with apt) or 'apt-get install caddy'."
        )
    return path


def caddy_env(home: Path, **extra: str) -> dict[str, str]:
    # Caddy keeps certificates and its config autosave under these; keep them in tmp.
    return {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        **extra,
    }


# --- every variable name is one the service knows -----------------------------------------


def test_the_collector_finds_the_settings_variables() -> None:
    names = known_names()
    # Read through an indirection (get(variable)) in config.py: only the recorder sees them.
    assert {"SESSION_TTL", "SESSION_MAX_AGE", "TOKEN_REFRESH_LEEWAY"} <= names
    assert {"OAUTH_CLIENT_SECRET", "REDIS_URL", "TOKEN_ENCRYPTION_KEYS", "EMBED_PATH"} <= names
    assert "OAUTH_CLIENT_SECRETS" not in names


def test_every_variable_named_in_deploy_is_known_to_the_service() -> None:
    known = known_names()
    used = names_used_in_deploy()
    # Each source must actually contribute, or the check below proves nothing.
    for source in ("compose.yaml", ".env.example", "Caddyfile", "k8s/deployment.yaml"):
        assert used[source], f"no variable names found in {source}"
    unknown = {source: sorted(names - known) for source, names in used.items() if names - known}
    assert unknown == {}, f"variables the service never reads (typos?): {unknown}"


def test_env_example_lists_every_variable_and_holds_no_secret() -> None:
    example = env_example()
    assert set(example) == known_names(), "deploy/.env.example must list every variable"
    filled = {name: value for name, value in example.items() if name in SECRET_NAMES and value}
    assert filled == {}, "secrets in .env.example must be empty"
    assert example["FANVUE_EMBEDDED_MODE"] == "production"
    # Copied as is, it must not start: every required secret is still missing.
    with pytest.raises(ConfigurationError):
        Settings.from_env(example)


def test_k8s_secret_example_has_the_keys_and_no_values() -> None:
    secret = k8s_documents()["Secret/fanvue-embedded"]
    data = secret["stringData"]
    assert set(data) >= REQUIRED_SECRET_KEYS
    assert {name: value for name, value in data.items() if value} == {}
    assert "data" not in secret


# --- the Dockerfile ----------------------------------------------------------------------------


def test_dockerfile_builds_a_wheel_and_runs_it_as_non_root() -> None:
    instructions = dockerfile_instructions()
    stages = [args for word, args in instructions if word == "FROM"]
    assert len(stages) >= 2, "multi-stage: a builder and a runtime"
    assert re.fullmatch(r"\S+ AS builder", stages[0], flags=re.IGNORECASE)
    assert stages[-1].split()[0] == "python:3.11-slim"
    runs = " ".join(args for word, args in instructions if word == "RUN")
    assert "pip wheel" in runs
    users = [args for word, args in instructions if word == "USER"]
    assert users, "the runtime must drop root"
    final_user = users[-1].split(":")[0]
    assert final_user not in ("root", "0")
    # Numeric, so Kubernetes can verify runAsNonRoot.
    assert final_user.isdigit()
    healthchecks = [args for word, args in instructions if word == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    assert "/healthz" in healthchecks[0]
    assert "urllib" in healthchecks[0]
    assert "python" in healthchecks[0]


def test_dockerfile_cmd_serves_behind_a_proxy() -> None:
    assert dockerfile_cmd() == EXPECTED_CMD


# --- compose + Caddy ---------------------------------------------------------------------------


def _app_services(services: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        service
        for service in services.values()
        if service.get("command") is None and "fanvue-embedded" in str(service.get("image", ""))
    ]


def test_compose_has_two_apps_the_worker_redis_and_caddy() -> None:
    services = compose()["services"]
    apps = _app_services(services)
    replicas = sum(int((app.get("deploy") or {}).get("replicas", 1)) for app in apps)
    assert replicas >= 2, "at least two app replicas"
    for app in apps:
        assert app["env_file"] in (".env", [".env"])
        assert "ports" not in app, "apps are reached only through Caddy"
        assert app["environment"]["REDIS_URL"].startswith("redis://redis:")

    workers = [s for s in services.values() if s.get("command") == ["fanvue-embedded", "worker"]]
    assert len(workers) == 1
    assert workers[0]["env_file"] in (".env", [".env"])

    redis = services["redis"]
    assert redis["image"].startswith("redis:7")
    command = " ".join(redis["command"]) if isinstance(redis["command"], list) else redis["command"]
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    assert any(str(volume).endswith(":/data") for volume in redis["volumes"])
    assert "ports" not in redis

    caddy = services["caddy"]
    assert caddy["image"].startswith("caddy:2")
    assert any(str(port).startswith("443:443") for port in caddy["ports"])
    assert any("Caddyfile:/etc/caddy/Caddyfile" in str(volume) for volume in caddy["volumes"])
    assert any(str(volume).endswith(":/data") for volume in caddy["volumes"]), "keep certificates"
    assert "DOMAIN" in caddy["environment"]
    assert "env_file" not in caddy, "Caddy needs DOMAIN, not the app's secrets"


def test_caddyfile_proxies_to_every_app_replica_with_health_checks() -> None:
    services = compose()["services"]
    app_names = {name for name, service in services.items() if service in _app_services(services)}
    text = caddyfile_text()
    match = re.search(r"reverse_proxy\s+([^{\n]+)\{", text)
    assert match, "a reverse_proxy block"
    upstreams = set(match.group(1).split())
    port = EXPECTED_CMD[EXPECTED_CMD.index("--port") + 1]
    assert upstreams == {f"{name}:{port}" for name in app_names}
    assert re.search(r"^\{\$DOMAIN\}\s*\{", text, flags=re.MULTILINE)
    assert re.search(r"health_uri\s+/readyz", text)
    assert re.search(r"^\s*respond\s+/metrics\s+404", text, flags=re.MULTILINE), (
        "metrics stay internal"
    )
    assert "X-Frame-Options" not in re.sub(r"#.*", "", text), "would break the Fanvue iframe"


def test_caddy_validates_the_caddyfile(tmp_path: Path) -> None:
    caddy = caddy_binary()
    command = [caddy, "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"]
    valid = subprocess.run(
        command,
        env=caddy_env(tmp_path, DOMAIN="app.example.com"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert valid.returncode == 0, valid.stderr
    assert "Valid configuration" in valid.stdout + valid.stderr
    # Without DOMAIN there is no site address: validation must catch it (the check has teeth).
    unset = {key: value for key, value in caddy_env(tmp_path).items() if key != "DOMAIN"}
    invalid = subprocess.run(command, env=unset, capture_output=True, text=True, timeout=60)
    assert invalid.returncode != 0


# --- Kubernetes ----------------------------------------------------------------------------------


def test_k8s_web_deployment_is_probed_bounded_and_non_root() -> None:
    deployment = k8s_documents()["Deployment/fanvue-embedded"]
    pod = deployment["spec"]["template"]["spec"]
    (app,) = containers(deployment)
    port = int(EXPECTED_CMD[EXPECTED_CMD.index("--port") + 1])
    ports = {item["name"]: item["containerPort"] for item in app["ports"]}
    assert port in ports.values()

    def probe_target(probe: dict[str, Any]) -> tuple[str, int]:
        get = probe["httpGet"]
        target = get["port"]
        return get["path"], ports[target] if isinstance(target, str) else target

    assert probe_target(app["livenessProbe"]) == ("/healthz", port)
    assert probe_target(app["readinessProbe"]) == ("/readyz", port)
    assert app["resources"]["requests"]
    assert app["resources"]["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    security = app["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert {item["mountPath"] for item in app["volumeMounts"]} >= {"/tmp"}
    assert {"secretRef": {"name": "fanvue-embedded"}} in app["envFrom"]
    env = {item["name"]: item.get("value") for item in app["env"]}
    assert env["FANVUE_EMBEDDED_MODE"] == "production"


def test_k8s_worker_runs_the_keepalive_command() -> None:
    worker = k8s_documents()["Deployment/fanvue-embedded-worker"]
    (container,) = containers(worker)
    assert container["command"] == ["fanvue-embedded", "worker"]
    assert worker["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"secretRef": {"name": "fanvue-embedded"}} in container["envFrom"]


def test_k8s_service_ingress_hpa_and_pdb_point_at_the_web_deployment() -> None:
    documents = k8s_documents()
    deployment = documents["Deployment/fanvue-embedded"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    worker_labels = documents["Deployment/fanvue-embedded-worker"]["spec"]["template"]["metadata"][
        "labels"
    ]

    def selects_web_only(selector: dict[str, str]) -> bool:
        matches = all(pod_labels.get(key) == value for key, value in selector.items())
        hits_worker = all(worker_labels.get(key) == value for key, value in selector.items())
        return matches and not hits_worker

    service = documents["Service/fanvue-embedded"]
    assert selects_web_only(service["spec"]["selector"])
    container_ports = {item["name"] for item in containers(deployment)[0]["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= container_ports

    ingress = documents["Ingress/fanvue-embedded"]
    annotations = ingress["metadata"]["annotations"]
    assert any(key.startswith("cert-manager.io/") for key in annotations)
    tls_hosts = {host for entry in ingress["spec"]["tls"] for host in entry["hosts"]}
    rule_hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert tls_hosts == rule_hosts
    assert all(entry["secretName"] for entry in ingress["spec"]["tls"])
    backends = {
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {service["metadata"]["name"]}
    public_paths = {
        path["path"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]
    }
    assert "/embedded" in public_paths
    assert not [path for path in public_paths if "/metrics".startswith(path)], (
        "metrics stay internal"
    )

    hpa = documents["HorizontalPodAutoscaler/fanvue-embedded"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["maxReplicas"] >= hpa["spec"]["minReplicas"]
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] > 0

    pdb = documents["PodDisruptionBudget/fanvue-embedded"]
    assert pdb["spec"]["minAvailable"] >= 1
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], "drains must be possible"
    assert selects_web_only(pdb["spec"]["selector"]["matchLabels"])


# --- HTTPS end to end: the Dockerfile's CMD behind Caddy, driven by Chromium -----------------


def _served_command(port: int) -> list[str]:
    """The Dockerfile's CMD, on a free port, with the venv's console script."""
    command = dockerfile_cmd()
    command[0] = str(Path(sys.executable).parent / command[0])
    command[command.index("--port") + 1] = str(port)
    return command


def _cookie_attributes(set_cookie: str) -> set[str]:
    """The lower-cased attribute names of a Set-Cookie value (``secure``, ``httponly``, ...)."""
    return {part.split("=")[0].strip().lower() for part in set_cookie.split(";")[1:]}


def _test_caddyfile(*, https_port: int, http_port: int, app_port: int) -> str:
    return (
        "{\n"
        "\tadmin off\n"
        "\tauto_https disable_redirects\n"
        "\tskip_install_trust\n"
        f"\thttp_port {http_port}\n"
        "}\n\n"
        f"https://localhost:{https_port} {{\n"
        "\ttls internal\n"
        f"\treverse_proxy 127.0.0.1:{app_port}\n"
        "}\n"
    )


@contextlib.contextmanager
def _https_stack(
    tmp_path: Path, *, redis_url: str, emulator: EmulatorHandle
) -> Iterator[tuple[str, str, Path]]:
    """The app (Dockerfile CMD) behind Caddy; yields the https URL, the app's http URL and
    Caddy's root certificate."""
    caddy = caddy_binary()
    app_port, https_port, http_port = free_port(), free_port(), free_port()
    public_url = f"https://localhost:{https_port}"
    redirect_uri = f"{public_url}/oauth/callback"
    # Register the app as a real deployment would be: https embed URL and redirect URI.
    emulator.control(
        "PATCH",
        "/app",
        json={"redirect_uris": [redirect_uri], "app_url": f"{public_url}/embedded"},
    )
    app_env = {
        # Production mode refuses the emulator's http URLs; everything else is as deployed.
        "FANVUE_EMBEDDED_MODE": "development",
        "OAUTH_CLIENT_ID": DEV_CLIENT_ID,
        "OAUTH_CLIENT_SECRET": DEV_CLIENT_SECRET,
        "OAUTH_REDIRECT_URI": redirect_uri,
        "OAUTH_SCOPES": "read:self",
        "SESSION_SECRET": DEV_SESSION_SECRET,
        "FANVUE_PLATFORM_URL": emulator.base_url,
        "OAUTH_ISSUER_BASE_URL": emulator.base_url,
        "API_BASE_URL": emulator.base_url,
        "PUBLIC_URL": public_url,
        "REDIS_URL": redis_url,
        "TOKEN_ENCRYPTION_KEYS": generate_key("e2e"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(
        _test_caddyfile(https_port=https_port, http_port=http_port, app_port=app_port)
    )
    caddy_home = tmp_path / "caddy"
    caddy_command = [caddy, "run", "--config", str(caddyfile), "--adapter", "caddyfile"]
    with (
        spawn(
            _served_command(app_port),
            host="127.0.0.1",
            port=app_port,
            env=app_env,
            log_path=tmp_path / "app.log",
        ),
        spawn(
            caddy_command,
            host="127.0.0.1",
            port=https_port,
            env=caddy_env(caddy_home),
            log_path=tmp_path / "caddy.log",
        ),
    ):
        root = caddy_home / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        _wait_for_certificate(public_url, root)
        yield public_url, f"http://127.0.0.1:{app_port}", root


def _wait_for_certificate(url: str, root: Path, timeout: float = 30.0) -> None:
    """Caddy listens before its internal CA has issued the site certificate: wait for both."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if root.exists():
                context = ssl.create_default_context(cafile=root)
                with httpx.Client(verify=context, timeout=5) as client:
                    client.get(f"{url}/healthz")
                return
        except (httpx.TransportError, ssl.SSLError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"Caddy served no valid certificate for {url} in {timeout}s")
        time.sleep(0.1)


@pytest.mark.browser
def test_dockerfile_cmd_serves_the_embedded_page_over_https_behind_caddy(
    tmp_path: Path, redis_url: str, emulator: EmulatorHandle
) -> None:
    from playwright.sync_api import expect, sync_playwright

    chromium = chromium_executable()  # raises (the test fails) when chromium is missing
    with _https_stack(tmp_path, redis_url=redis_url, emulator=emulator) as (public, direct, ca):
        # A real TLS chain: Caddy's internal CA verifies the certificate it serves.
        with httpx.Client(verify=ssl.create_default_context(cafile=ca), timeout=10) as client:
            assert client.get(f"{public}/healthz").json() == {"status": "ok"}
            assert client.get(f"{public}/readyz").status_code == 200
            # X-Forwarded-Proto from Caddy is honoured: the app marks its cookie Secure.
            login = client.get(f"{public}/oauth/login")
        assert login.status_code == 302
        assert "secure" in _cookie_attributes(login.headers["set-cookie"])
        # ...and only because of the proxy: over plain http the same route does not.
        with httpx.Client(timeout=10) as client:
            plain = client.get(f"{direct}/oauth/login")
        assert plain.status_code == 302
        assert "secure" not in _cookie_attributes(plain.headers["set-cookie"])

        token = emulator.session_token("luna.rivers")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=[*CHROMIUM_ARGS, "--ignore-certificate-errors"]
            )
            try:
                page = browser.new_page(ignore_https_errors=True)
                response = page.goto(f"{public}/embedded?token={token}&theme=dark")
                assert response is not None
                assert response.ok
                assert response.url.startswith("https://")
                security = response.security_details()
                assert security is not None
                assert str(security.get("protocol", "")).startswith("TLS")
                frame_ancestors = response.headers["content-security-policy"]
                assert f"frame-ancestors {emulator.base_url}" in frame_ancestors
                expect(page.locator("main#app")).to_have_attribute(
                    "data-state", "ready", timeout=WAIT_MS
                )
                expect(page.get_by_test_id("creator-handle")).to_have_text(
                    "@luna.rivers", timeout=WAIT_MS
                )
                expect(page.locator("html")).to_have_attribute("data-theme", "dark")
                assert token not in page.url, "the page removes the token from the address bar"
            finally:
                browser.close()
    assert emulator.counters()["authorize_on_behalf"] == 1
    # The app logged JSON lines (LOG_FORMAT=json from the deploy configuration).
    log_text = (tmp_path / "app.log").read_text()
    assert token not in log_text, "the access log must not show the session token"
    lines = [line for line in log_text.splitlines() if line.strip()]
    assert lines
    assert all(json.loads(line)["level"] for line in lines)
