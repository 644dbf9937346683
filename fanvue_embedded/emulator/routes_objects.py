"""The object store behind presigned upload URLs: ``PUT /_objects/{token}`` → ``ETag``.

Like an S3 presigned URL it needs no authentication: the unguessable token is the permission,
and it stops working once its upload is completed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ._http import counted, injected_fault
from .state import EmulatorState

MAX_PART_BYTES = 64 * 1024 * 1024


def object_routes(state: EmulatorState) -> list[Route]:
    async def put_object(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_PART_BYTES:
            return PlainTextResponse("EntityTooLarge", status_code=400)
        data = await request.body()
        if len(data) > MAX_PART_BYTES:
            return PlainTextResponse("EntityTooLarge", status_code=400)
        # After the body is read, so a client sees a clean 503 rather than a reset mid-send.
        fault = await injected_fault(state.faults, "objects")
        if fault is not None:
            return fault
        etag = state.worlds.put_object(request.path_params["token"], data)
        if etag is None:
            return PlainTextResponse("AccessDenied", status_code=403)
        return Response(status_code=200, headers={"ETag": etag})

    return [counted(state, "/_objects/{token}", put_object, ["PUT"])]
