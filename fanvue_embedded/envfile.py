"""``.env`` files: what the CLI and ``app_from_env`` read besides the real environment.

The format is Starlette's ``Config`` format (and the common subset of python-dotenv and
Next.js): ``NAME=value`` per line, ``#`` comment lines, blank lines, optional matching quotes
around the value, an optional leading ``export``. No interpolation, no multi-line values.
The real environment always wins over the file.

``Settings.from_env()`` itself never reads a file: a library should not pick up whatever
``.env`` lies in the directory it happens to run in. Entry points opt in with
``Settings.from_env(environment_with_env_file())``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from .errors import ConfigurationError

__all__ = ["DEFAULT_ENV_FILE", "environment_with_env_file", "read_env_file"]

DEFAULT_ENV_FILE = ".env"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The variables a ``.env`` file sets. A line that is not ``NAME=value`` is an error naming
    the file and line (never the line's text: it may hold a secret)."""
    values: dict[str, str] = {}
    text = Path(path).read_text(encoding="utf-8-sig")
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not _NAME.match(name):
            raise ConfigurationError(
                f"{os.fspath(path)} line {number} is not NAME=value (names are letters, digits "
                "and '_')."
            )
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[name] = value
    return values


def environment_with_env_file(
    path: str | os.PathLike[str] = DEFAULT_ENV_FILE, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``environ`` (default ``os.environ``) over the variables of ``path`` if that file exists.

    A variable set in the real environment wins even when it is empty, as with python-dotenv.
    """
    env = dict(os.environ if environ is None else environ)
    if not Path(path).is_file():
        return env
    return {**read_env_file(path), **env}
