"""The servers the suite starts as separate OS processes, all with the same uvicorn settings.

``python -m bench.servers emulator|app|bare --port N``: one uvicorn worker, the default event
loop and HTTP implementation, no access log, warnings only — identical for the app and the bare
baseline, so the throughput ratio compares application code and nothing else.

Keep-alive: the app and the bare baseline close a connection idle for
:data:`SERVER_KEEP_ALIVE` seconds (uvicorn's default, as ``fanvue-embedded serve`` runs), so the
benchmarks' clients expire idle connections sooner (:data:`CLIENT_KEEPALIVE_EXPIRY`): a client
that reuses a connection at the moment the server closes it gets no answer (``ReadError``,
"server disconnected"). The emulator stands in for Fanvue's front end and keeps idle connections
for :data:`EMULATOR_KEEP_ALIVE` seconds, longer than the 5 s httpx keeps them in the library's
own client, so the app's pooled upstream connections are never closed under a request either.
"""

from __future__ import annotations

import argparse

import uvicorn

SERVER_KEEP_ALIVE = 5
"""Seconds the app and the bare baseline keep an idle connection (uvicorn's default)."""
EMULATOR_KEEP_ALIVE = 75
"""Seconds the emulator keeps an idle connection: longer than any client here keeps one."""
CLIENT_KEEPALIVE_EXPIRY = 3.0
"""Seconds the benchmarks' clients keep an idle connection: well under ``SERVER_KEEP_ALIVE``."""

TARGETS = {
    "app": "fanvue_embedded.app:app_from_env",
    "bare": "bench.bare_app:create_bare_app",
}


def serve(target: str, port: int) -> None:
    if target == "emulator":
        from fanvue_embedded.emulator import EmulatorConfig, create_emulator_app

        app: object = create_emulator_app(EmulatorConfig())
        factory = False
    else:
        app = TARGETS[target]
        factory = True
    keep_alive = EMULATOR_KEEP_ALIVE if target == "emulator" else SERVER_KEEP_ALIVE
    uvicorn.run(
        app,  # type: ignore[arg-type]
        factory=factory,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_keep_alive=keep_alive,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers")
    parser.add_argument("target", choices=("emulator", *TARGETS))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(args.target, args.port)


if __name__ == "__main__":
    main()
