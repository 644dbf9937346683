"""What the generated methods share: the ``OMIT`` default and building a JSON body.

A request body field that Fanvue accepts as ``null`` (a post's ``price``, a message's
``text``) defaults to ``OMIT``, so ``None`` can mean "send null" (clear it) while leaving the
argument out means "leave the field out". Other optional fields default to ``None``: left out.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["OMIT", "Omit", "body"]


class Omit(enum.Enum):
    """The type of ``OMIT``: a body field left out of the request."""

    OMIT = "OMIT"

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Final = Omit.OMIT


def body(values: dict[str, object], *nullable: str) -> dict[str, object]:
    """``values`` without the fields left out: ``OMIT`` ones, and ``None`` ones unless the
    field is one of ``nullable`` (where ``None`` is sent as JSON null)."""
    return {
        name: value
        for name, value in values.items()
        if value is not OMIT and (value is not None or name in nullable)
    }
