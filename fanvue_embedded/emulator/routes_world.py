"""Control API for the API world (``/_emulator/...``, JSON, no auth: development only).

=====================================================  =============================================
``GET /_emulator/creators/{ref}/world``                how many items each collection holds
``POST /_emulator/creators/{ref}/world``               ``{"followers": 45, "chats": 20, ...}``:
                                                       each count replaces that collection with N
                                                       deterministic items → the resulting counts
``GET /_emulator/creators/{ref}/agency``               ``{agency, manages: [uuid...]}``
``GET /_emulator/creators/{ref}/world/{name}``         the keys of one collection, newest first
                                                       (at most 100; e.g. ``media_links``)
``PUT /_emulator/creators/{ref}/agency``               ``{manages: [uuid|handle...]}``: make the
                                                       creator an agency managing those creators
``DELETE /_emulator/creators/{ref}/agency``            no longer an agency
``PUT|DELETE /_emulator/creators/{ref}/agency/creators/{other}``  manage / stop managing one
``GET|PUT /_emulator/apps/{appUuid}/subscription``     the app's subscription state (see below)
``DELETE /_emulator/apps/{appUuid}/subscription``      forget the app (its endpoints answer 404)
=====================================================  =============================================

``ref`` is a creator's uuid or handle. Errors: ``{"error", "field", "error_description"}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import _validate as v
from ._http import counted
from .records import Creator
from .state import EmulatorState
from .world import generators
from .world.registry import AppSubscription

PREFIX = "/_emulator"
Endpoint = Callable[[Request], Awaitable[Response]]
SUBSCRIPTION_STATUSES = ("active", "pending", "cancelled", "none")
UPSTREAM = ("ok", "failure", "unconfigured")
OVERALL_STATUSES = ("notConfigured", "pendingSetup", "active", "withdrawn", "mixed", "unavailable")


def world_routes(state: EmulatorState) -> list[Route]:
    worlds = state.worlds

    def creator(ref: str, field: str = "ref") -> Creator:
        found = state.find_creator(ref)
        if found is None:
            raise v.FieldError(404, field, f"no such creator: {ref}")
        return found

    def agency_view(agency: Creator) -> dict[str, Any]:
        return {
            "uuid": agency.uuid,
            "agency": worlds.is_agency(agency.uuid),
            "manages": worlds.managed_by(agency.uuid),
        }

    async def get_world(request: Request) -> Response:
        found = creator(request.path_params["ref"])
        with worlds.lock:
            return JSONResponse(generators.counts(worlds.world(found.uuid)))

    async def seed_world(request: Request) -> Response:
        found = creator(request.path_params["ref"])
        body = await v.json_object(request, allowed=generators.GENERATORS)
        counts = {
            name: int(v.number(name, value, minimum=0, integer=True))
            for name, value in body.items()
        }
        if any(value > generators.MAX_COUNT for value in counts.values()):
            raise v.FieldError(422, "body", f"counts must be at most {generators.MAX_COUNT}")
        return JSONResponse(worlds.reseed(found.uuid, counts))

    async def world_keys(request: Request) -> Response:
        found = creator(request.path_params["ref"])
        name = request.path_params["name"]
        with worlds.lock:
            try:
                keys = generators.keys(worlds.world(found.uuid), name)
            except KeyError:
                raise v.FieldError(
                    404, "name", f"no collection {name!r}; one of {sorted(generators.GENERATORS)}"
                ) from None
        return JSONResponse({"keys": keys[:100], "count": len(keys)})

    async def get_agency(request: Request) -> Response:
        return JSONResponse(agency_view(creator(request.path_params["ref"])))

    async def put_agency(request: Request) -> Response:
        agency = creator(request.path_params["ref"])
        body = await v.json_object(request, allowed=("manages",))
        refs = v.text_list("manages", body.get("manages", []), allow_empty=True)
        managed = [creator(ref, "manages").uuid for ref in refs]
        if agency.uuid in managed:
            raise v.FieldError(422, "manages", "an agency cannot manage itself")
        worlds.set_agency(agency.uuid, managed)
        return JSONResponse(agency_view(agency))

    async def delete_agency(request: Request) -> Response:
        agency = creator(request.path_params["ref"])
        worlds.set_agency(agency.uuid, None)
        return JSONResponse(agency_view(agency))

    async def manage_one(request: Request) -> Response:
        agency = creator(request.path_params["ref"])
        other = creator(request.path_params["other"], "other")
        if other.uuid == agency.uuid:
            raise v.FieldError(422, "other", "an agency cannot manage itself")
        worlds.set_agency(agency.uuid, [*worlds.managed_by(agency.uuid), other.uuid])
        return JSONResponse(agency_view(agency))

    async def release_one(request: Request) -> Response:
        agency = creator(request.path_params["ref"])
        other = creator(request.path_params["other"], "other")
        if worlds.is_agency(agency.uuid):
            kept = [uuid for uuid in worlds.managed_by(agency.uuid) if uuid != other.uuid]
            worlds.set_agency(agency.uuid, kept)
        return JSONResponse(agency_view(agency))

    async def get_app_subscription(request: Request) -> Response:
        found = worlds.apps.get(request.path_params["app"])
        if found is None:
            raise v.FieldError(404, "appUuid", "no subscription state for this app")
        return JSONResponse(_app_view(found))

    async def put_app_subscription(request: Request) -> Response:
        app_uuid = request.path_params["app"]
        body = await v.json_object(
            request,
            allowed=(
                "appName",
                "status",
                "planName",
                "currentPeriodEnd",
                "cancelAtPeriodEnd",
                "overallStatus",
                "owner",
                "upstream",
            ),
        )
        with worlds.lock:
            current = worlds.apps.get(app_uuid) or AppSubscription(app_uuid)
            if "appName" in body:
                current.app_name = v.required_text("appName", body["appName"])
            if "status" in body:
                current.status = v.choice("status", body["status"], SUBSCRIPTION_STATUSES)
            if "planName" in body:
                current.plan_name = v.text("planName", body["planName"], optional=True)
            if "currentPeriodEnd" in body:
                current.current_period_end = v.text(
                    "currentPeriodEnd", body["currentPeriodEnd"], optional=True
                )
            if "cancelAtPeriodEnd" in body:
                current.cancel_at_period_end = v.boolean(
                    "cancelAtPeriodEnd", body["cancelAtPeriodEnd"]
                )
            if "overallStatus" in body:
                current.overall_status = v.choice(
                    "overallStatus", body["overallStatus"], OVERALL_STATUSES
                )
            if "upstream" in body:
                current.upstream = v.choice("upstream", body["upstream"], UPSTREAM)
            if "owner" in body:
                ref = v.text("owner", body["owner"], optional=True)
                current.owner = None if ref is None else creator(ref, "owner").uuid
            worlds.apps[app_uuid] = current
            return JSONResponse(_app_view(current))

    async def delete_app_subscription(request: Request) -> Response:
        with worlds.lock:
            worlds.apps.pop(request.path_params["app"], None)
        return JSONResponse({"deleted": True})

    def guarded(endpoint: Endpoint) -> Endpoint:
        async def run(request: Request) -> Response:
            try:
                return await endpoint(request)
            except v.FieldError as exc:
                return exc.response()

        return run

    table: list[tuple[str, str, Endpoint]] = [
        ("GET", "/creators/{ref}/world", get_world),
        ("POST", "/creators/{ref}/world", seed_world),
        ("GET", "/creators/{ref}/world/{name}", world_keys),
        ("GET", "/creators/{ref}/agency", get_agency),
        ("PUT", "/creators/{ref}/agency", put_agency),
        ("DELETE", "/creators/{ref}/agency", delete_agency),
        ("PUT", "/creators/{ref}/agency/creators/{other}", manage_one),
        ("DELETE", "/creators/{ref}/agency/creators/{other}", release_one),
        ("GET", "/apps/{app}/subscription", get_app_subscription),
        ("PUT", "/apps/{app}/subscription", put_app_subscription),
        ("DELETE", "/apps/{app}/subscription", delete_app_subscription),
    ]
    by_path: dict[str, dict[str, Endpoint]] = {}
    for method, path, endpoint in table:
        by_path.setdefault(PREFIX + path, {})[method] = guarded(endpoint)

    def dispatcher(methods: dict[str, Endpoint]) -> Endpoint:
        async def dispatch(request: Request) -> Response:
            endpoint = methods.get(request.method) or methods["GET"]
            return await endpoint(request)

        return dispatch

    return [
        counted(state, path, dispatcher(methods), list(methods))
        for path, methods in by_path.items()
    ]


def _app_view(app: AppSubscription) -> dict[str, Any]:
    return {
        "appUuid": app.app_uuid,
        "appName": app.app_name,
        "status": app.status,
        "planName": app.plan_name,
        "currentPeriodEnd": app.current_period_end,
        "cancelAtPeriodEnd": app.cancel_at_period_end,
        "overallStatus": app.overall_status,
        "owner": app.owner,
        "upstream": app.upstream,
    }
