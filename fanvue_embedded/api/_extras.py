"""Hand-written methods of the typed API's resources (not generated).

A class named ``<Resource>Extras`` here (``MediaExtras`` for ``api.media``,
``CreatorMediaExtras`` for ``api.creator(uuid).media``) becomes the base class of the generated
resource, so its methods sit beside the generated ones. A mixin reaches the API through
``self._client`` (a ``FanvueClient``; the creator-bound ones also have ``self._creator``) and
must not define ``__init__``. After adding or renaming one, run ``scripts/generate-api``.
"""

from __future__ import annotations

from typing import Literal

from ..client import FanvueClient
from ..uploads import (
    DEFAULT_CONCURRENCY,
    DEFAULT_PART_SIZE,
    ProgressCallback,
    Source,
    UploadResult,
    upload_media,
)

__all__ = ["CreatorMediaExtras", "MediaExtras"]

MediaType = Literal["image", "video", "audio", "document"]


class MediaExtras:
    """``api.media.upload``: the whole multipart upload flow in one call."""

    _client: FanvueClient

    async def upload(
        self,
        source: Source,
        *,
        name: str,
        media_type: MediaType,
        filename: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: ProgressCallback | None = None,
        wait_ready: bool = False,
    ) -> UploadResult:
        """POST /media/uploads, GET /media/uploads/{uploadId}/parts/{partNumber}/url,
        PATCH /media/uploads/{uploadId} (scopes: write:media): see
        :func:`fanvue_embedded.uploads.upload_media`."""
        return await upload_media(
            self._client,
            source,
            name=name,
            media_type=media_type,
            filename=filename,
            part_size=part_size,
            concurrency=concurrency,
            progress=progress,
            wait_ready=wait_ready,
        )


class CreatorMediaExtras:
    """``api.creator(uuid).media.upload``: the agency mirror of the upload flow."""

    _client: FanvueClient
    _creator: str

    async def upload(
        self,
        source: Source,
        *,
        name: str,
        media_type: MediaType,
        filename: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: ProgressCallback | None = None,
        wait_ready: bool = False,
    ) -> UploadResult:
        """POST /creators/{creatorUserUuid}/media/uploads and its part and completion calls
        (scopes: write:creator, write:media): see :func:`fanvue_embedded.uploads.upload_media`."""
        return await upload_media(
            self._client,
            source,
            name=name,
            media_type=media_type,
            filename=filename,
            part_size=part_size,
            concurrency=concurrency,
            progress=progress,
            wait_ready=wait_ready,
            creator_uuid=self._creator,
        )
