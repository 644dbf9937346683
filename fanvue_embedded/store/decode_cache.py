"""A small LRU of decoded token sets, keyed by (creator, ciphertext).

The store's fast path: when the stored value has not changed since the last read, AES-GCM and
JSON decoding are skipped. Keyed by creator too, so a ciphertext copied onto another creator
still goes through decryption (and fails its associated data).
"""

from __future__ import annotations

from collections import OrderedDict

from ..models import TokenSet

__all__ = ["DEFAULT_SIZE", "DecodedCache"]

DEFAULT_SIZE = 1024


class DecodedCache:
    """Least-recently-used map of ``(creator, ciphertext)`` to its decoded ``TokenSet``."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError("the cache needs room for at least one entry")
        self._size = size
        self._entries: OrderedDict[tuple[str, bytes], TokenSet] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, creator: str, ciphertext: bytes) -> TokenSet | None:
        key = (creator, ciphertext)
        tokens = self._entries.get(key)
        if tokens is not None:
            self._entries.move_to_end(key)
        return tokens

    def clear(self) -> None:
        """Forget everything (the keyring changed: values must be opened again)."""
        self._entries.clear()

    def put(self, creator: str, ciphertext: bytes, tokens: TokenSet) -> None:
        self._entries[(creator, ciphertext)] = tokens
        self._entries.move_to_end((creator, ciphertext))
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
