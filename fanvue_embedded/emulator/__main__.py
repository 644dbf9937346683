"""``python -m fanvue_embedded.emulator --port 8765``: see ``runner.build_arg_parser``."""

from __future__ import annotations

from .runner import build_arg_parser, config_from_args, main

__all__ = ["build_arg_parser", "config_from_args", "main"]

if __name__ == "__main__":
    main()
