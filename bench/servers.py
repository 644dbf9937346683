"""The servers the suite starts as separate OS processes, all with the same uvicorn settings.

``python -m bench.servers emulator|app|bare --port N``: one uvicorn worker, the default event
loop and HTTP implementation, no access log, warnings only — identical for the app and the bare
baseline, so the throughput ratio compares application code and nothing else.
"""

from __future__ import annotations

import argparse

import uvicorn

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
    uvicorn.run(
        app,  # type: ignore[arg-type]
        factory=factory,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        log_config=None,
        server_header=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers")
    parser.add_argument("target", choices=("emulator", *TARGETS))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(args.target, args.port)


if __name__ == "__main__":
    main()
