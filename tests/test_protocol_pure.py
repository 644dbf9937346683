"""The protocol core's pure functions: request building and strict response parsing."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest

from fanvue_embedded import errors
from fanvue_embedded.models import TokenSet
from fanvue_embedded.oauth import (
    OAuthClient,
    build_code_grant,
    build_refresh_grant,
    client_secret_basic,
    parse_token_response,
)
from fanvue_embedded.platform import (
    build_authorize_on_behalf,
    parse_authorize_on_behalf,
    validate_session_token,
)

pytestmark = pytest.mark.anyio

RESERVED = "s3cr:et/with+reserved&chars=%20 space?#[]@!$'()*,;é"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


def test_client_secret_basic_form_encodes_before_base64() -> None:
    header = client_secret_basic("my client:id", RESERVED)
    scheme, _, encoded = header.partition(" ")
    assert scheme == "Basic"
    decoded = base64.b64decode(encoded).decode()
    user, _, password = decoded.partition(":")
    # Exactly one unencoded colon separates the two parts; each part round-trips.
    assert decoded.count(":") == 1
    assert unquote_plus(user) == "my client:id"
    assert unquote_plus(password) == RESERVED
    assert " " not in decoded
    assert password.startswith("s3cr%3Aet%2Fwith%2Breserved%26chars%3D%2520+space")


def test_code_grant_request_carries_pkce_and_no_secret_in_body() -> None:
    request = build_code_grant(
        token_endpoint="https://auth.example/oauth2/token",
        client_id="cid",
        client_secret=RESERVED,
        code="ory_ac_abc",
        code_verifier=VERIFIER,
        redirect_uri="https://app.example/cb",
    )
    form = parse_qs(request.body)
    assert form == {
        "grant_type": ["authorization_code"],
        "code": ["ory_ac_abc"],
        "redirect_uri": ["https://app.example/cb"],
        "code_verifier": [VERIFIER],
    }
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "secret" not in request.body
    assert "client_id" not in request.body
    assert RESERVED not in repr(request)
    assert "ory_ac_abc" not in repr(request)


def test_refresh_grant_request() -> None:
    request = build_refresh_grant(
        token_endpoint="https://auth.example/oauth2/token",
        client_id="cid",
        client_secret="x" * 20,
        refresh_token="ory_rt_1",
    )
    assert parse_qs(request.body) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["ory_rt_1"],
    }
    with pytest.raises(ValueError, match="empty"):
        build_refresh_grant(
            token_endpoint="https://a/t", client_id="c", client_secret="s", refresh_token=""
        )


def good_body(**changes: object) -> bytes:
    body: dict[str, object] = {
        "access_token": "eyJ.access",
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "openid offline_access read:self",
        "refresh_token": "ory_rt_new",
        "id_token": "eyJ.id",
    }
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return json.dumps(body).encode()


def test_parse_token_response_success() -> None:
    tokens = parse_token_response(200, good_body(), now=1000.0)
    assert tokens.access_token == "eyJ.access"
    assert tokens.refresh_token == "ory_rt_new"
    assert tokens.expires_at == 4600.0
    assert tokens.scopes == frozenset({"openid", "offline_access", "read:self"})
    assert tokens.id_token == "eyJ.id"
    assert not tokens.is_expired(60, now=4539.0)
    assert tokens.is_expired(60, now=4541.0)
    assert tokens.has_scope("read:self")


def test_token_response_without_refresh_token_is_accepted() -> None:
    tokens = parse_token_response(200, good_body(refresh_token=None), now=0.0)
    assert tokens.refresh_token is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        good_body(access_token=None),
        good_body(access_token=""),
        good_body(token_type="mac"),
        good_body(token_type=None),
        good_body(expires_in=0),
        good_body(expires_in=-5),
        good_body(expires_in="3600"),
        good_body(expires_in=True),
        good_body(refresh_token=""),
        good_body(scope=["read:self"]),
    ],
)
def test_malformed_token_response_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(errors.ProtocolError):
        parse_token_response(200, body, now=0.0)


@pytest.mark.parametrize(
    ("status", "body", "expected", "code"),
    [
        (
            400,
            {"error": "invalid_grant"},
            errors.ReauthorizationRequired,
            "reauthorization_required",
        ),
        (401, {"error": "invalid_client"}, errors.ClientAuthenticationError, "invalid_client"),
        (
            400,
            {
                "error": "invalid_request",
                "error_description": "Multiple concurrent requests using the same token, please retry",
            },
            errors.ConcurrentRefreshError,
            "concurrent_refresh",
        ),
        (400, {"error": "invalid_request"}, errors.OAuthError, "oauth_error"),
        (500, {"error": "server_error"}, errors.UpstreamServerError, "upstream_error"),
        (503, None, errors.UpstreamServerError, "upstream_error"),
        (429, None, errors.RateLimitedError, "rate_limited"),
        (400, None, errors.ProtocolError, "protocol_error"),
    ],
)
def test_token_error_mapping(
    status: int, body: dict[str, str] | None, expected: type[Exception], code: str
) -> None:
    raw = json.dumps(body).encode() if body is not None else b"<html>oops</html>"
    with pytest.raises(expected) as info:
        parse_token_response(status, raw, now=0.0)
    assert isinstance(info.value, errors.FanvueError)
    assert info.value.code == code


def test_retryable_errors_are_transient_and_rejections_are_not() -> None:
    assert issubclass(errors.ConcurrentRefreshError, errors.TransientError)
    assert issubclass(errors.UpstreamServerError, errors.TransientError)
    assert issubclass(errors.UpstreamUnavailable, errors.TransientError)
    assert not issubclass(errors.ReauthorizationRequired, errors.TransientError)
    assert not issubclass(errors.ClientAuthenticationError, errors.TransientError)


def test_tokenset_repr_masks_and_round_trips() -> None:
    tokens = TokenSet(
        access_token="eyJsecretaccess",
        expires_at=123.0,
        refresh_token="ory_rt_secretrefresh",
        scopes=frozenset({"read:self"}),
        id_token="eyJsecretid",
    )
    text = repr(tokens)
    for secret in ("secretaccess", "secretrefresh", "secretid"):
        assert secret not in text
    assert TokenSet.from_dict(tokens.to_dict()) == tokens


async def test_authorization_url_is_s256_with_required_scopes() -> None:
    client = OAuthClient(
        client_id="cid",
        client_secret="x" * 20,
        issuer_base_url="https://auth.example/",
        redirect_uri="https://app.example/cb",
        scopes=("read:self",),
    )
    try:
        url = client.authorization_url(state="st", code_challenge="ch")
    finally:
        await client.aclose()
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://auth.example/oauth2/auth"
    query = parse_qs(parts.query)
    assert query["scope"] == ["openid offline_access offline read:self"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["response_type"] == ["code"]
    assert query["state"] == ["st"]
    assert query["redirect_uri"] == ["https://app.example/cb"]
    assert "x" * 20 not in url


def test_authorize_on_behalf_request() -> None:
    request = build_authorize_on_behalf(
        platform_url="https://www.fanvue.com/",
        session_token="eyJabc.def.ghi",
        code_challenge="challenge",
        state="state1",
    )
    assert request.url == "https://www.fanvue.com/api/v1/app-integrations/authorize-on-behalf"
    assert request.headers["Authorization"] == "Bearer eyJabc.def.ghi"
    assert json.loads(request.body) == {
        "code_challenge": "challenge",
        "code_challenge_method": "S256",
        "state": "state1",
    }


@pytest.mark.parametrize("token", ["", " ", "a b", "x" * 5000, None, 42, "tok\n"])
def test_malformed_session_token_is_rejected_before_any_call(token: object) -> None:
    with pytest.raises(errors.InvalidSessionToken):
        validate_session_token(token)


def test_parse_authorize_on_behalf() -> None:
    ok = json.dumps({"code": "ory_ac_1", "state": "s1"}).encode()
    assert parse_authorize_on_behalf(200, ok, expected_state="s1") == "ory_ac_1"
    with pytest.raises(errors.StateMismatchError):
        parse_authorize_on_behalf(200, ok, expected_state="s2")
    with pytest.raises(errors.ProtocolError):
        parse_authorize_on_behalf(200, b'{"state": "s1"}', expected_state="s1")
    cases: list[tuple[int, bytes, type[Exception], str]] = [
        (
            401,
            b'{"error":"invalid_session_token"}',
            errors.InvalidSessionToken,
            "invalid_session_token",
        ),
        (403, b'{"error":"consent_required"}', errors.ConsentRequired, "consent_required"),
        (400, b'{"error":"invalid_request"}', errors.OAuthError, "oauth_error"),
        (502, b"bad gateway", errors.UpstreamServerError, "upstream_error"),
        (429, b"", errors.RateLimitedError, "rate_limited"),
        (418, b"teapot", errors.ProtocolError, "protocol_error"),
    ]
    for status, body, expected, code in cases:
        with pytest.raises(expected) as info:
            parse_authorize_on_behalf(status, body, expected_state="s1")
        assert getattr(info.value, "code", None) == code
