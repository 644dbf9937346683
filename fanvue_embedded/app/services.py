"""The Starlette side of the composition root: ``services_of(request)``.

``Services`` and ``build_services`` live in :mod:`fanvue_embedded.services` (no Starlette there,
so the worker and the CLI use them too); they are re-exported here for existing imports.
"""

from __future__ import annotations

from starlette.requests import Request

from ..services import Services, build_services

__all__ = ["Services", "build_services", "services_of"]


def services_of(request: Request) -> Services:
    """The ``Services`` of the app serving ``request`` (set by ``create_app``)."""
    services: Services = request.app.state.fanvue
    return services
