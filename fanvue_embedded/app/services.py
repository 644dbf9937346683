"""The Starlette side of the composition root: ``services_of(request)``.

``Services`` and ``build_services`` live in :mod:`fanvue_embedded.services` (no Starlette there,
so the worker and the CLI use them too); they are re-exported here for existing imports.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from ..services import Services, build_services

__all__ = ["Services", "build_services", "services_of"]


def services_of(request: HTTPConnection) -> Services:
    """The ``Services`` of the app serving ``request``.

    ``create_app`` keeps them on its own ``app.state``; ``install(host, fanvue_app)`` puts the
    same object on the host app's state, so the host's own routes find them too.
    """
    services = getattr(request.app.state, "fanvue", None)
    if not isinstance(services, Services):
        raise RuntimeError(
            "no fanvue_embedded services for this route: it belongs to an app that only mounts "
            "create_app(...). Call fanvue_embedded.app.install(host_app, fanvue_app) once."
        )
    return services
