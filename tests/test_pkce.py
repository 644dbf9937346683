"""PKCE S256 and state generation (RFC 7636)."""

from __future__ import annotations

import pytest

from fanvue_embedded.pkce import (
    code_challenge_s256,
    generate_code_verifier,
    generate_state,
    validate_code_verifier,
)


def test_rfc7636_appendix_b_vector() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize("length", [43, 64, 128])
def test_generated_verifiers_are_valid_and_unique(length: int) -> None:
    verifiers = {generate_code_verifier(length) for _ in range(50)}
    assert len(verifiers) == 50
    for verifier in verifiers:
        assert len(verifier) == length
        assert validate_code_verifier(verifier) == verifier


@pytest.mark.parametrize("length", [0, 42, 129])
def test_verifier_length_bounds(length: int) -> None:
    with pytest.raises(ValueError, match=r"43\.\.128"):
        generate_code_verifier(length)


@pytest.mark.parametrize("verifier", ["a" * 42, "a" * 129, "a" * 42 + "!", "a" * 42 + " "])
def test_invalid_verifier_is_rejected(verifier: str) -> None:
    with pytest.raises(ValueError, match="PKCE verifier"):
        code_challenge_s256(verifier)


def test_state_is_unguessable() -> None:
    states = {generate_state() for _ in range(100)}
    assert len(states) == 100
    assert all(len(state) >= 43 for state in states)
