"""FastAPI dependencies: the current creator and their Fanvue API client (extra ``[fastapi]``).

::

    from typing import Annotated
    from fastapi import Depends, FastAPI
    from fanvue_embedded.app import create_app, install
    from fanvue_embedded.fastapi import CreatorApi, CurrentCreator, current_creator

    api = FastAPI()
    fanvue_app = create_app(settings)
    api.mount("/fanvue", fanvue_app)
    install(api, fanvue_app)

    @api.get("/hello")
    async def hello(ctx: CurrentCreator) -> dict[str, str]:
        return {"creator": ctx.creator}

``CurrentCreator`` is ``Annotated[CreatorContext, Depends(current_creator)]``. A request without
a valid app session is answered 401 ``invalid_session`` from the error table (the exception
handler ``install`` adds); a renewed session rides back in ``X-Updated-Session`` whatever the
route returns (the middleware ``install`` adds). The bearer scheme shows in FastAPI's
``/openapi.json`` and ``/docs``; cookie mode works too (the cookie is read by the dependency).

``Entitled`` (``Depends(require_subscription)``) lets a route run only for a creator with an
active subscription to the app (``FANVUE_APP_UUID``); others are answered 402
``subscription_required``::

    @api.get("/report", dependencies=[Depends(require_subscription)])
    async def report(ctx: CurrentCreator) -> dict[str, str]: ...
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .api import FanvueAPI
from .app.auth import CreatorContext, creator_context, renewal_headers
from .app.host import RENEWAL_SCOPE_KEY
from .app.services import services_of
from .client import FanvueClient
from .entitlements import Entitlement

__all__ = [
    "CreatorApi",
    "CreatorTypedApi",
    "CurrentCreator",
    "Entitled",
    "creator_api",
    "current_creator",
    "require_subscription",
    "session_bearer",
    "typed_api",
]

session_bearer = HTTPBearer(
    auto_error=False,  # the cookie may carry the session instead; current_creator decides
    scheme_name="fanvueSession",
    bearerFormat="app session",
    description="The app session from POST /api/fanvue/session (never a Fanvue token).",
)


async def current_creator(
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(session_bearer)],
) -> CreatorContext:
    """The verified creator of the request, or a ``FanvueError`` (401 ``invalid_session``; 503
    when the store is down) that the host's error handler answers (``install``)."""
    context = await creator_context(request)
    request.scope.setdefault(RENEWAL_SCOPE_KEY, []).extend(
        renewal_headers(request, context.session)
    )
    return context


CurrentCreator = Annotated[CreatorContext, Depends(current_creator)]
"""The verified creator: ``async def route(ctx: CurrentCreator)``."""


async def creator_api(ctx: CurrentCreator) -> FanvueClient:
    """The Fanvue API client acting for the current creator (refreshes behind the scenes)."""
    return ctx.api


CreatorApi = Annotated[FanvueClient, Depends(creator_api)]
"""The current creator's Fanvue API client: ``async def route(api: CreatorApi)``."""


async def typed_api(ctx: CurrentCreator) -> FanvueAPI:
    """The typed Fanvue API (``fanvue_embedded.api``) acting for the current creator."""
    return FanvueAPI(ctx.api)


CreatorTypedApi = Annotated[FanvueAPI, Depends(typed_api)]
"""The current creator's typed API: ``async def route(api: CreatorTypedApi)``, then
``await api.users.me()`` (answers typed as ``TypedDict``s)."""


async def require_subscription(request: Request, ctx: CurrentCreator) -> Entitlement:
    """The current creator's active plan for this app, or ``SubscriptionRequired`` (402
    ``subscription_required`` through the host's error handler, ``install``)."""
    return await services_of(request).entitlements.require(ctx.creator)


Entitled = Annotated[Entitlement, Depends(require_subscription)]
"""The current creator's active plan: ``async def route(plan: Entitled)``."""
