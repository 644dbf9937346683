"""What a configured secret must look like: not empty, not a placeholder, long or random enough.

``SESSION_SECRET`` is the one the Fanvue starter lets be 16 characters. We require 32, unless
a shorter value (at least 16) is evidently random: it mixes at least three kinds of character
(lowercase, uppercase, digits, others) and its estimated strength is at least 80 bits. The
estimate is deliberately pessimistic: the smallest common alphabet that holds every character
(digits, hex, lowercase, letters+digits, base64url, printable ASCII) gives the bits per
character, and a character earns nothing when it repeats (``aa``), continues a sequence
(``abc``, ``321``) or repeats a pair seen before (``Passw0rdPassw0rd``). It cannot recognise
words, so a human-made 16-31 character password can still pass: generate the value.
"""

from __future__ import annotations

import math
import string

from ._devdefaults import DEV_SECRETS
from .errors import ConfigurationError

__all__ = ["check_secret", "estimated_bits", "looks_like_placeholder"]

MIN_LENGTH = {"OAUTH_CLIENT_SECRET": 16, "SESSION_SECRET": 32, "FANVUE_WEBHOOK_SECRET": 16}
# SESSION_SECRET values shorter than 32 characters are accepted from this length on ...
SHORT_SESSION_SECRET = 16
# ... when they carry at least this many bits by the estimate below.
SHORT_SECRET_BITS = 80

_PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "changethis",
    "use-a-random",
    "replace",
    "placeholder",
    "your-",
    "your_",
    "youshould",
)
_CLASSES = (str.islower, str.isupper, str.isdigit)
_ALPHABETS = (
    string.digits,
    string.digits + "abcdef",
    string.digits + "ABCDEF",
    string.ascii_lowercase,
    string.ascii_uppercase,
    string.ascii_lowercase + string.digits,
    string.ascii_uppercase + string.digits,
    string.ascii_letters + string.digits,
    string.ascii_letters + string.digits + "-_",
    string.ascii_letters + string.digits + "+/=",
    string.printable.strip(),
)


def looks_like_placeholder(value: str) -> bool:
    """Values people paste from an example file: ``<...>``, ``changeme``, ``xxxxxxxx``."""
    lowered = value.strip().lower()
    if lowered.startswith("<") and lowered.endswith(">"):
        return True
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return True
    # "xxxxxxxx", "00000000": one character repeated is never a real secret.
    return len(set(lowered)) <= 2


def estimated_bits(value: str) -> float:
    """A pessimistic strength estimate for ``value`` in bits (see the module docstring)."""
    alphabet = next((a for a in _ALPHABETS if set(value) <= set(a)), None)
    # Anything outside printable ASCII: count it as a large alphabet (Unicode), 7 bits a character.
    per_character = math.log2(len(alphabet)) if alphabet else 7.0
    pairs: set[str] = set()
    earning = 0
    for index, character in enumerate(value):
        previous = value[index - 1] if index else ""
        step = ord(character) - ord(previous) if previous else 0
        repeat = character == previous
        sequence = index >= 2 and abs(step) == 1 and step == ord(previous) - ord(value[index - 2])
        pair = previous + character
        if not (repeat or sequence or pair in pairs):
            earning += 1
        pairs.add(pair)
    return earning * per_character


def check_secret(variable: str, value: str, *, production: bool) -> None:
    """Raise :class:`ConfigurationError` naming ``variable`` unless ``value`` is usable."""
    if not value:
        raise ConfigurationError(
            f"{variable} is empty; set it to the real value.", variable=variable
        )
    if looks_like_placeholder(value):
        raise ConfigurationError(
            f"{variable} looks like a placeholder; set it to the real value.", variable=variable
        )
    minimum = MIN_LENGTH.get(variable, 8)
    if len(value) < minimum and (variable != "SESSION_SECRET" or not _random_enough(value)):
        raise ConfigurationError(_too_short(variable, value, minimum), variable=variable)
    if production and value in DEV_SECRETS:
        raise ConfigurationError(
            f"{variable} is the public development value; it is refused in production mode.",
            variable=variable,
        )


def _random_enough(value: str) -> bool:
    kinds = sum(any(test(c) for c in value) for test in _CLASSES) + any(
        not c.isalnum() for c in value
    )
    return (
        len(value) >= SHORT_SESSION_SECRET
        and kinds >= 3
        and estimated_bits(value) >= SHORT_SECRET_BITS
    )


def _too_short(variable: str, value: str, minimum: int) -> str:
    message = f"{variable} is too short ({len(value)} characters); use at least {minimum}."
    if variable == "SESSION_SECRET" and len(value) >= SHORT_SESSION_SECRET:
        # The Fanvue starter accepts 16 characters; say why this one is not enough.
        message += (
            f" A value of {SHORT_SESSION_SECRET}-{minimum - 1} characters is accepted only when it "
            f"is clearly random: three kinds of character and about {SHORT_SECRET_BITS} bits or "
            f"more; this one estimates to {estimated_bits(value):.0f} bits. It signs "
            "every app session, so a guessable value lets anyone forge one. Generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return message
