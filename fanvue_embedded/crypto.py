"""AES-256-GCM keyring for values at rest (token sets in the store).

A sealed value ("blob") is self-describing, so that keys can rotate without a migration::

    0x01 | len(key id) (1 byte) | key id (ASCII) | nonce (12 bytes) | ciphertext + GCM tag

The associated data is ``b"fanvue-embedded/v1|" + context`` where ``context`` names the purpose
and the owner (``"tokens|<creator uuid>"``). A blob copied to another creator or purpose therefore
fails authentication instead of decrypting into the wrong place.

Keys are ordered oldest -> newest, as :func:`fanvue_embedded.config.parse_encryption_keys`
returns them from ``TOKEN_ENCRYPTION_KEYS``: the newest (last) key encrypts, every key decrypts.
Rotation = append a new key, re-encrypt (lazily on read, or in bulk), then drop the old one.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import ConfigurationError, DecryptionError
from .values import EncryptionKey

__all__ = ["Decrypted", "Keyring", "generate_key"]

_FORMAT_VERSION = 1
_AAD_PREFIX = b"fanvue-embedded/v1|"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True, slots=True)
class Decrypted:
    """The result of :meth:`Keyring.decrypt`.

    ``is_current`` is False when an older key sealed the value: the caller should re-encrypt it.
    """

    plaintext: bytes = field(repr=False)
    key_id: str
    is_current: bool


def generate_key(key_id: str) -> str:
    """A fresh ``"<key id>:<base64url 32 bytes>"`` entry for ``TOKEN_ENCRYPTION_KEYS``."""
    _check_key_id(key_id)
    encoded = base64.urlsafe_b64encode(os.urandom(_KEY_BYTES)).decode("ascii").rstrip("=")
    return f"{key_id}:{encoded}"


def _check_key_id(key_id: str) -> None:
    if not _KEY_ID.match(key_id):
        raise ConfigurationError(
            f"encryption key id {key_id!r} must be 1-32 letters, digits, '-' or '_'."
        )


class Keyring:
    """Encrypt with the newest key, decrypt with any. ``repr()`` shows key ids only."""

    __slots__ = ("_ciphers", "_current")

    def __init__(self, keys: Sequence[EncryptionKey]) -> None:
        if not keys:
            raise ConfigurationError(
                "the encryption keyring is empty; set TOKEN_ENCRYPTION_KEYS.",
                variable="TOKEN_ENCRYPTION_KEYS",
            )
        ciphers: dict[str, AESGCM] = {}
        for key in keys:
            _check_key_id(key.key_id)
            if len(key.key) != _KEY_BYTES:
                raise ConfigurationError(
                    f"encryption key {key.key_id!r} must be {_KEY_BYTES} bytes (AES-256).",
                    variable="TOKEN_ENCRYPTION_KEYS",
                )
            if key.key_id in ciphers:
                raise ConfigurationError(
                    f"encryption key id {key.key_id!r} appears twice.",
                    variable="TOKEN_ENCRYPTION_KEYS",
                )
            ciphers[key.key_id] = AESGCM(key.key)
        self._ciphers = ciphers
        self._current = keys[-1].key_id

    @classmethod
    def generate_ephemeral(cls) -> Keyring:
        """A keyring with one random key (id ``"dev"``) that lives as long as the process.

        For development and tests only: whatever it encrypts is unreadable after a restart.
        """
        return cls([EncryptionKey("dev", os.urandom(_KEY_BYTES))])

    @property
    def current_key_id(self) -> str:
        """The id of the key that encrypts."""
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id that can decrypt, oldest first."""
        return tuple(self._ciphers)

    def __repr__(self) -> str:
        return f"Keyring(key_ids={list(self._ciphers)!r}, current={self._current!r})"

    def encrypt(self, plaintext: bytes, *, context: str) -> bytes:
        """Seal ``plaintext`` under the newest key, bound to ``context``."""
        kid = self._current.encode("ascii")
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self._current].encrypt(nonce, plaintext, _aad(context))
        return bytes((_FORMAT_VERSION, len(kid))) + kid + nonce + sealed

    def decrypt(self, blob: bytes, *, context: str) -> Decrypted:
        """Open a blob made by :meth:`encrypt` with the same ``context``.

        Raises :class:`DecryptionError` (naming the key id, never the data) when the format is
        wrong, the key id is unknown, or authentication fails (tampering, another context).
        """
        if len(blob) < 2 or blob[0] != _FORMAT_VERSION:
            raise DecryptionError("stored value has an unknown format")
        kid_end = 2 + blob[1]
        if len(blob) < kid_end + _NONCE_BYTES + _TAG_BYTES:
            raise DecryptionError("stored value is truncated")
        try:
            key_id = blob[2:kid_end].decode("ascii")
        except UnicodeDecodeError as exc:
            raise DecryptionError("stored value has a malformed key id") from exc
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(f"stored value was encrypted with unknown key id {key_id!r}")
        nonce = blob[kid_end : kid_end + _NONCE_BYTES]
        try:
            plaintext = cipher.decrypt(nonce, blob[kid_end + _NONCE_BYTES :], _aad(context))
        except InvalidTag as exc:
            raise DecryptionError(
                f"stored value failed authentication with key id {key_id!r} "
                "(tampered, or moved from another creator or purpose)"
            ) from exc
        return Decrypted(plaintext, key_id, key_id == self._current)


def _aad(context: str) -> bytes:
    return _AAD_PREFIX + context.encode("utf-8")
