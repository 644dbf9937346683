"""The AES-256-GCM keyring: format, context binding, rotation, failures that name no data."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fanvue_embedded.config import EncryptionKey, parse_encryption_keys
from fanvue_embedded.crypto import Keyring, generate_key
from fanvue_embedded.errors import ConfigurationError, DecryptionError

CONTEXT = "tokens|3f0c1c8e-7d7a-4b7e-9d57-0a1e2b3c4d5e"
SECRET = b'{"a":"eyJhbGciOiJSUzI1NiJ9.payload.sig","r":"ory_rt_abc"}'


def make_key(key_id: str) -> EncryptionKey:
    return EncryptionKey(key_id, os.urandom(32))


def test_round_trip_reports_the_key_and_that_it_is_current() -> None:
    keyring = Keyring([make_key("k1")])
    opened = keyring.decrypt(keyring.encrypt(SECRET, context=CONTEXT), context=CONTEXT)
    assert opened.plaintext == SECRET
    assert opened.key_id == "k1"
    assert opened.is_current


def test_blob_layout_and_associated_data_are_as_documented() -> None:
    key = make_key("k1")
    blob = Keyring([key]).encrypt(SECRET, context=CONTEXT)
    assert blob[0] == 1
    assert blob[1] == 2
    assert blob[2:4] == b"k1"
    nonce, sealed = blob[4:16], blob[16:]
    assert len(sealed) == len(SECRET) + 16
    # Decrypt with the raw primitive: the format is a stored contract, not an implementation detail.
    aad = b"fanvue-embedded/v1|" + CONTEXT.encode()
    assert AESGCM(key.key).decrypt(nonce, sealed, aad) == SECRET


def test_same_plaintext_encrypts_differently_each_time() -> None:
    keyring = Keyring([make_key("k1")])
    first = keyring.encrypt(SECRET, context=CONTEXT)
    second = keyring.encrypt(SECRET, context=CONTEXT)
    assert first != second
    assert SECRET not in first


def test_another_context_fails_and_names_the_key_not_the_data() -> None:
    keyring = Keyring([make_key("k1")])
    blob = keyring.encrypt(SECRET, context=CONTEXT)
    with pytest.raises(DecryptionError) as caught:
        keyring.decrypt(blob, context="tokens|someone-else")
    assert "'k1'" in str(caught.value)
    assert "ory_rt" not in str(caught.value)
    assert caught.value.code == "decryption_failed"


def test_tampering_is_detected() -> None:
    keyring = Keyring([make_key("k1")])
    blob = bytearray(keyring.encrypt(SECRET, context=CONTEXT))
    blob[-1] ^= 0x01
    with pytest.raises(DecryptionError):
        keyring.decrypt(bytes(blob), context=CONTEXT)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x01",
        b"\x02\x02k1" + bytes(40),
        b"\x01\x02k1" + bytes(10),
        b"\x01\x02\xff\xfe" + bytes(40),
    ],
    ids=["empty", "header-only", "unknown-version", "truncated", "non-ascii-kid"],
)
def test_malformed_values_raise_decryption_error(blob: bytes) -> None:
    with pytest.raises(DecryptionError):
        Keyring([make_key("k1")]).decrypt(blob, context=CONTEXT)


def test_unknown_key_id_is_named() -> None:
    blob = Keyring([make_key("gone")]).encrypt(SECRET, context=CONTEXT)
    with pytest.raises(DecryptionError, match="'gone'"):
        Keyring([make_key("k1")]).decrypt(blob, context=CONTEXT)


def test_rotation_newest_key_encrypts_every_key_decrypts() -> None:
    old, new = make_key("old"), make_key("new")
    sealed_by_old = Keyring([old]).encrypt(SECRET, context=CONTEXT)
    rotated = Keyring([old, new])  # oldest -> newest, as TOKEN_ENCRYPTION_KEYS lists them
    assert rotated.current_key_id == "new"
    assert rotated.key_ids == ("old", "new")

    opened = rotated.decrypt(sealed_by_old, context=CONTEXT)
    assert (opened.plaintext, opened.key_id, opened.is_current) == (SECRET, "old", False)

    resealed = rotated.encrypt(opened.plaintext, context=CONTEXT)
    assert Keyring([new]).decrypt(resealed, context=CONTEXT).plaintext == SECRET
    with pytest.raises(DecryptionError):
        Keyring([old]).decrypt(resealed, context=CONTEXT)


def test_generated_key_is_accepted_by_the_config_parser() -> None:
    entry = generate_key("2025-01")
    (key,) = parse_encryption_keys(entry)
    assert key.key_id == "2025-01"
    assert len(key.key) == 32
    assert generate_key("2025-01") != entry
    Keyring([key]).encrypt(b"x", context=CONTEXT)


def test_generate_key_rejects_bad_ids() -> None:
    with pytest.raises(ConfigurationError):
        generate_key("has:colon")


def test_repr_shows_key_ids_but_never_key_material() -> None:
    key = make_key("k1")
    text = repr(Keyring([key]))
    assert "k1" in text
    for encoding in (key.key.hex(), base64.urlsafe_b64encode(key.key).decode().rstrip("=")):
        assert encoding not in text
    assert repr(key.key) not in text


@pytest.mark.parametrize(
    "keys",
    [
        [],
        [EncryptionKey("k1", os.urandom(16))],
        [EncryptionKey("k1", os.urandom(32)), EncryptionKey("k1", os.urandom(32))],
        [EncryptionKey("bad id", os.urandom(32))],
    ],
    ids=["empty", "short-key", "duplicate-id", "bad-id"],
)
def test_invalid_keyrings_are_configuration_errors(keys: list[EncryptionKey]) -> None:
    with pytest.raises(ConfigurationError):
        Keyring(keys)


def test_ephemeral_keyring_is_random_per_call() -> None:
    first, second = Keyring.generate_ephemeral(), Keyring.generate_ephemeral()
    assert first.current_key_id == "dev"
    blob = first.encrypt(SECRET, context=CONTEXT)
    assert first.decrypt(blob, context=CONTEXT).plaintext == SECRET
    with pytest.raises(DecryptionError):
        second.decrypt(blob, context=CONTEXT)
