"""Settings: the port of createConfig(), validated at construction."""

from __future__ import annotations

import base64

import pytest

from fanvue_embedded._devdefaults import DEV_CLIENT_SECRET, DEV_SESSION_SECRET
from fanvue_embedded.config import Secret, Settings, parse_encryption_keys
from fanvue_embedded.errors import ConfigurationError

KEY = "k1:" + base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")
SESSION_SECRET = "s" * 8 + "0123456789abcdefghijklmnopqrstuvwxyz"
CLIENT_SECRET = "Zq8#p!v@2xL%k9&w*Rt"


def base_env(**overrides: str) -> dict[str, str]:
    env = {
        "OAUTH_CLIENT_ID": "app-123",
        "OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "OAUTH_REDIRECT_URI": "https://app.example.com/oauth/callback",
        "SESSION_SECRET": SESSION_SECRET,
        "TOKEN_ENCRYPTION_KEYS": KEY,
    }
    env.update(overrides)
    return env


def test_production_defaults_pick_fanvue_production_urls() -> None:
    settings = Settings.from_env(base_env())
    assert settings.platform_url == "https://www.fanvue.com"
    assert settings.issuer_base_url == "https://auth.fanvue.com"
    assert settings.api_base_url == "https://api.fanvue.com"
    assert settings.platform_origin == "https://www.fanvue.com"
    assert settings.api_version == "2025-06-26"
    assert settings.mode == "production"


def test_dev_environment_and_explicit_override() -> None:
    settings = Settings.from_env(
        base_env(FANVUE_ENV="dev", API_BASE_URL="https://api.custom.example/")
    )
    assert settings.platform_url == "https://dev.fanvue.com"
    assert settings.issuer_base_url == "https://auth.dev.fanvue.com"
    assert settings.api_base_url == "https://api.custom.example"


def test_requested_scopes_always_include_openid_and_offline() -> None:
    settings = Settings.from_env(base_env(OAUTH_SCOPES="read:self read:fan,read:self"))
    assert settings.requested_scopes == (
        "openid",
        "offline_access",
        "offline",
        "read:self",
        "read:fan",
    )


@pytest.mark.parametrize(
    "variable", ["OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "OAUTH_REDIRECT_URI", "SESSION_SECRET"]
)
def test_missing_variable_is_named(variable: str) -> None:
    env = base_env()
    del env[variable]
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(env)
    assert info.value.variable == variable
    assert variable in str(info.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OAUTH_CLIENT_SECRET", "changeme-changeme-123"),
        ("OAUTH_CLIENT_SECRET", "<your client secret>"),
        ("OAUTH_CLIENT_SECRET", "short"),
        ("SESSION_SECRET", "x" * 40),
        ("SESSION_SECRET", "too-short-for-a-session-key"),
        ("OAUTH_SCOPES", "read:self read:everything"),
        ("FANVUE_ENV", "staging"),
        ("OAUTH_REDIRECT_URI", "http://app.example.com/cb"),
        ("API_BASE_URL", "not a url"),
        ("TOKEN_ENCRYPTION_KEYS", "k1:tooshort"),
        ("TOKEN_ENCRYPTION_KEYS", "no-colon"),
        ("TOKEN_ENCRYPTION_KEYS", f"{KEY},{KEY}"),
        ("SESSION_TTL", "soon"),
        ("REDIS_SOCKET_TIMEOUT", "0"),
        ("REDIS_SOCKET_TIMEOUT", "forever"),
        ("REDIS_POOL_TIMEOUT", "nan"),
        ("SESSION_TTL", "inf"),
        ("FANVUE_EMBEDDED_MODE", "yolo"),
    ],
)
def test_bad_values_are_rejected_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(base_env(**{variable: value}))
    assert info.value.variable == variable


def test_production_refuses_dev_secrets_and_missing_keys() -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(base_env(OAUTH_CLIENT_SECRET=DEV_CLIENT_SECRET))
    assert info.value.variable == "OAUTH_CLIENT_SECRET"
    env = base_env()
    del env["TOKEN_ENCRYPTION_KEYS"]
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(env)
    assert info.value.variable == "TOKEN_ENCRYPTION_KEYS"


def test_development_mode_allows_http_dev_secrets_and_memory_store() -> None:
    env = base_env(
        FANVUE_EMBEDDED_MODE="development",
        OAUTH_CLIENT_SECRET=DEV_CLIENT_SECRET,
        SESSION_SECRET=DEV_SESSION_SECRET,
        OAUTH_REDIRECT_URI="http://127.0.0.1:8000/oauth/callback",
        FANVUE_PLATFORM_URL="http://localhost:9000",
    )
    del env["TOKEN_ENCRYPTION_KEYS"]
    settings = Settings.from_env(env)
    assert settings.development
    assert settings.platform_origin == "http://localhost:9000"
    assert settings.token_encryption_keys == ()


def test_repr_never_shows_a_secret() -> None:
    settings = Settings.from_env(
        base_env(
            REDIS_URL="redis://:hunter2-password@redis:6379/0",
            FANVUE_WEBHOOK_SECRET="whsec_0123456789abcdef",
        )
    )
    text = repr(settings)
    for secret in (
        CLIENT_SECRET,
        SESSION_SECRET,
        "hunter2-password",
        "whsec_0123456789abcdef",
        KEY[3:],
    ):
        assert secret not in text
    assert "k1" in text  # key ids are not secret and help operators
    assert str(Secret("abc")) == "Secret('**********')"


def test_encryption_keys_keep_their_order() -> None:
    other = "k2:" + base64.urlsafe_b64encode(b"\x07" * 32).decode()
    keys = parse_encryption_keys(f"{other}, {KEY}")
    assert [key.key_id for key in keys] == ["k2", "k1"]
    assert keys[1].key == bytes(range(32))
    assert "key=" not in repr(keys[0])
