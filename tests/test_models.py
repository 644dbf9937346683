"""fanvue_embedded.models: token sets keep secrets out of their repr and round-trip."""

from __future__ import annotations

from fanvue_embedded.models import TokenSet


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
