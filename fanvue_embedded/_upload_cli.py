"""``fanvue-embedded media upload FILE``: upload a file for a stored creator, with a progress bar.

The creator must have authorized the app (its tokens are in the store ``REDIS_URL`` names) with
``write:media`` (plus ``read:media`` for ``--wait``; agency scopes for ``--managed``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ._argtypes import positive_int
from .errors import FanvueError

if TYPE_CHECKING:
    from .services import Services

__all__ = ["add_media_parser", "upload_command"]

_MIB = 1024 * 1024
_BAR = 30
# Copies of uploads' constants (a test keeps them equal): the CLI imports the client lazily.
MEDIA_TYPES = ("image", "video", "audio", "document")
DEFAULT_PART_SIZE = 8 * _MIB
DEFAULT_CONCURRENCY = 4


def add_media_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``media upload`` to the CLI's subcommands."""
    media = commands.add_parser("media", help="upload media for a stored creator")
    actions = media.add_subparsers(dest="media_command", required=True, metavar="action")
    upload = actions.add_parser(
        "upload", help="upload FILE as new media (multipart, resumable parts)"
    )
    upload.add_argument("file", type=Path)
    upload.add_argument("--creator", required=True, help="uuid of the creator whose tokens to use")
    upload.add_argument("--name", required=True, help="the media's title (1-255 characters)")
    upload.add_argument("--type", required=True, choices=MEDIA_TYPES, dest="media_type")
    upload.add_argument("--managed", help="upload to this managed creator (agency mirror)")
    upload.add_argument(
        "--part-size",
        type=positive_int,
        default=DEFAULT_PART_SIZE // _MIB,
        help="MiB per part (at least 5)",
    )
    upload.add_argument("--concurrency", type=positive_int, default=DEFAULT_CONCURRENCY)
    upload.add_argument("--wait", action="store_true", help="wait until Fanvue has processed it")


class ProgressBar:
    """``[######........] 45%  22.5/50.0 MiB`` redrawn in place on ``stream``."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, sent: int, total: int | None) -> None:
        if total:
            filled = round(_BAR * sent / total)
            line = (
                f"\r[{'#' * filled}{'.' * (_BAR - filled)}] {100 * sent // total:3d}%  "
                f"{sent / _MIB:.1f}/{total / _MIB:.1f} MiB"
            )
        else:
            line = f"\r{sent / _MIB:.1f} MiB sent"
        self._stream.write(line)
        self._stream.flush()

    def done(self) -> None:
        self._stream.write("\n")
        self._stream.flush()


async def upload_command(services: Services, args: argparse.Namespace) -> int:
    """Run ``media upload``; one line on stdout with the new media's uuid and status."""
    from .uploads import upload_media

    bar = ProgressBar(sys.stderr)
    try:
        async with services.tokens.client(args.creator) as api:
            result = await upload_media(
                api,
                args.file,
                name=args.name,
                media_type=args.media_type,
                part_size=args.part_size * _MIB,
                concurrency=args.concurrency,
                progress=bar,
                wait_ready=args.wait,
                creator_uuid=args.managed,
            )
    except (ValueError, FanvueError) as exc:
        bar.done()
        print(f"fanvue-embedded: upload failed: {exc}", file=sys.stderr)
        return 1
    bar.done()
    print(f"{result.media_uuid} {result.status} ({result.parts} parts, {result.size} bytes)")
    return 0
