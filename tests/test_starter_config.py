"""Configuration the way the Fanvue app starter spells it: BASE_URL, SESSION_*, NODE_ENV, .env."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from fanvue_embedded._secret_rules import estimated_bits
from fanvue_embedded.config import Settings
from fanvue_embedded.envfile import environment_with_env_file, read_env_file
from fanvue_embedded.errors import ConfigurationError
from tests.test_config import base_env


def test_base_url_gives_the_public_url_and_the_default_redirect_uri() -> None:
    env = base_env(BASE_URL="https://app.example.com/")
    del env["OAUTH_REDIRECT_URI"]
    settings = Settings.from_env(env)
    assert settings.public_url == "https://app.example.com"
    assert settings.redirect_uri == "https://app.example.com/oauth/callback"
    explicit = Settings.from_env(base_env(BASE_URL="https://app.example.com"))
    assert explicit.redirect_uri == "https://app.example.com/oauth/callback"  # from base_env
    other = base_env(BASE_URL="https://app.example.com", OAUTH_REDIRECT_URI="https://x.example/cb")
    assert Settings.from_env(other).redirect_uri == "https://x.example/cb"


def test_base_url_and_public_url_must_agree() -> None:
    same = base_env(BASE_URL="https://app.example.com", PUBLIC_URL="https://app.example.com/")
    assert Settings.from_env(same).public_url == "https://app.example.com"
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(base_env(BASE_URL="https://a.example", PUBLIC_URL="https://b.example"))
    assert info.value.variable == "BASE_URL"


def test_without_redirect_uri_or_base_url_the_message_names_both() -> None:
    env = base_env()
    del env["OAUTH_REDIRECT_URI"]
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(env)
    assert info.value.variable == "OAUTH_REDIRECT_URI"
    assert "BASE_URL" in str(info.value)


def test_session_cookie_name_alone_does_not_switch_on_cookie_mode() -> None:
    settings = Settings.from_env(base_env(SESSION_COOKIE_NAME="fvsession"))
    assert settings.session_mode == "bearer"
    assert settings.session_cookie_name is None
    cookie = Settings.from_env(base_env(SESSION_MODE="cookie"))
    assert cookie.session_mode == "cookie"
    assert cookie.session_cookie_name == "__Host-fanvue_session"
    named = Settings.from_env(base_env(SESSION_MODE="cookie", SESSION_COOKIE_NAME="fvsession"))
    assert named.session_cookie_name == "fvsession"


@pytest.mark.parametrize(
    ("variable", "env"),
    [
        ("SESSION_MODE", {"SESSION_MODE": "cookies"}),
        ("SESSION_COOKIE_NAME", {"SESSION_MODE": "cookie", "SESSION_COOKIE_NAME": "a b"}),
        ("SESSION_COOKIE_NAME", {"SESSION_MODE": "cookie", "SESSION_COOKIE_NAME": "x;y=1"}),
    ],
)
def test_bad_session_mode_or_cookie_name(variable: str, env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(base_env(**env))
    assert info.value.variable == variable


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({}, "production"),
        ({"NODE_ENV": "development"}, "development"),
        ({"NODE_ENV": "production"}, "production"),
        ({"NODE_ENV": "test"}, "production"),
        ({"NODE_ENV": "development", "FANVUE_EMBEDDED_MODE": "production"}, "production"),
        ({"NODE_ENV": "production", "FANVUE_EMBEDDED_MODE": "development"}, "development"),
    ],
)
def test_node_env_development_is_the_only_other_way_into_development(
    env: dict[str, str], mode: str
) -> None:
    assert Settings.from_env(base_env(**env)).mode == mode


def test_a_random_16_character_session_secret_is_accepted() -> None:
    value = "Zq8#p!v@2xL%k9&w"
    assert estimated_bits(value) >= 80
    assert Settings.from_env(base_env(SESSION_SECRET=value)).session_secret.get_secret_value()
    generated = secrets.token_urlsafe(24)  # 32 characters: always accepted
    assert Settings.from_env(base_env(SESSION_SECRET=generated))


@pytest.mark.parametrize(
    "value",
    [
        "MySecretKey12345",  # words and a sequence
        "Passw0rdPassw0rd",  # repeated
        "0123456789abcdef",  # hex, a sequence
        "k3v9x2m7q8w4z1p6",  # only two kinds of character, ~83 bits at best
        "too-short-for-a-session-key",
    ],
)
def test_a_short_session_secret_that_is_not_random_says_why_32_are_needed(value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(base_env(SESSION_SECRET=value))
    message = str(info.value)
    assert info.value.variable == "SESSION_SECRET"
    assert "use at least 32" in message
    assert "clearly random" in message
    assert "forge" in message
    assert value not in message


def test_starter_placeholder_session_secret_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="placeholder"):
        Settings.from_env(base_env(SESSION_SECRET="youshouldreallychangethis"))


def test_env_file_format(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        "# a comment\n"
        "\n"
        "OAUTH_CLIENT_ID=app-123\n"
        'OAUTH_REDIRECT_URI="https://app.example.com/oauth/callback"\n'
        "export SESSION_MODE='cookie'\n"
        "OAUTH_SCOPES = read:self read:fan\n"
        "EMPTY=\n"
        "HASH=a#b\n"
    )
    assert read_env_file(path) == {
        "OAUTH_CLIENT_ID": "app-123",
        "OAUTH_REDIRECT_URI": "https://app.example.com/oauth/callback",
        "SESSION_MODE": "cookie",
        "OAUTH_SCOPES": "read:self read:fan",
        "EMPTY": "",
        "HASH": "a#b",
    }


def test_real_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("OAUTH_CLIENT_ID=from-file\nOAUTH_SCOPES=read:fan\n")
    merged = environment_with_env_file(path, {"OAUTH_CLIENT_ID": "from-env"})
    assert merged == {"OAUTH_CLIENT_ID": "from-env", "OAUTH_SCOPES": "read:fan"}
    assert environment_with_env_file(tmp_path / "missing", {"A": "1"}) == {"A": "1"}


def test_a_malformed_env_file_line_is_named_without_its_text(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("OAUTH_CLIENT_ID=app\nsk_live_secret_value_on_its_own\n")
    with pytest.raises(ConfigurationError) as info:
        read_env_file(path)
    assert "line 2" in str(info.value)
    assert "sk_live" not in str(info.value)


def test_a_starter_style_env_file_configures_the_app(tmp_path: Path) -> None:
    """The starter's variable set, filled in, is enough (plus a key for the token store)."""
    env = base_env()
    path = tmp_path / ".env"
    path.write_text(
        f"OAUTH_CLIENT_ID={env['OAUTH_CLIENT_ID']}\n"
        f"OAUTH_CLIENT_SECRET={env['OAUTH_CLIENT_SECRET']}\n"
        "OAUTH_SCOPES=read:self read:chat\n"
        "OAUTH_ISSUER_BASE_URL=https://auth.fanvue.com\n"
        "SESSION_COOKIE_NAME=fvsession\n"
        f"SESSION_SECRET={env['SESSION_SECRET']}\n"
        "API_BASE_URL=https://api.fanvue.com\n"
        "BASE_URL=https://my-app.example.com\n"
        f"TOKEN_ENCRYPTION_KEYS={env['TOKEN_ENCRYPTION_KEYS']}\n"
    )
    settings = Settings.from_env(environment_with_env_file(path, {}))
    assert settings.redirect_uri == "https://my-app.example.com/oauth/callback"
    assert settings.scopes == ("read:self", "read:chat")
    assert settings.session_mode == "bearer"
    assert settings.mode == "production"
