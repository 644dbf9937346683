"""Hand-written methods of the typed API's resources (not generated).

A class named ``<Resource>Extras`` here (``MediaExtras`` for ``api.media``,
``CreatorMediaExtras`` for ``api.creator(uuid).media``) becomes the base class of the generated
resource, so its methods sit beside the generated ones. A mixin reaches the API through
``self._client`` (a ``FanvueClient``; the creator-bound ones also have ``self._creator``) and
must not define ``__init__``. After adding or renaming one, run ``scripts/generate-api``.
"""

from __future__ import annotations
