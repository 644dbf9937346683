"""``app_path``: the one helper every produced path goes through, under ``root_path``."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from fanvue_embedded.app.urls import app_path, mount_prefix


def request_under(root_path: str) -> Request:
    return Request({"type": "http", "root_path": root_path, "path": root_path + "/x"})


@pytest.mark.parametrize(
    ("root_path", "path", "expected"),
    [
        ("", "/oauth/login", "/oauth/login"),
        ("", "/", "/"),
        ("/fanvue", "/oauth/login", "/fanvue/oauth/login"),
        ("/fanvue", "/", "/fanvue"),
        ("/fanvue/", "/oauth", "/fanvue/oauth"),
    ],
)
def test_app_path_prefixes_the_mount(root_path: str, path: str, expected: str) -> None:
    assert app_path(request_under(root_path), path) == expected
    assert mount_prefix(request_under(root_path)) == root_path.rstrip("/")


def test_app_path_takes_absolute_app_paths_only() -> None:
    with pytest.raises(ValueError, match="start with '/'"):
        app_path(request_under("/fanvue"), "oauth/login")
