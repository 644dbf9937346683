"""The packaged Fanvue spec: a faithful copy, parsed into typed operations."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fanvue_embedded.spec import load_spec, parse_type, spec_text

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "fanvue-api" / "operations.json"


def test_the_packaged_copy_matches_the_published_facts() -> None:
    if not SHARED.exists():
        pytest.skip("../shared/fanvue-api is not beside this checkout")
    assert json.loads(spec_text()) == json.loads(SHARED.read_text("utf-8"))


def test_every_operation_is_loaded_with_its_shape() -> None:
    spec = load_spec()
    assert len(spec) == 143
    styles = [operation.pagination for operation in spec]
    assert styles.count("page") == 39
    assert styles.count("cursor") == 11
    followers = spec.get("listFollowers")
    assert (followers.method, followers.path) == ("GET", "/followers")
    assert (followers.page_param, followers.size_param) == ("page", "size")
    assert spec.get("listMedia").size_param == "limit"
    assert spec.get("getEarnings").size_param == "size"
    size = followers.query_by_name["size"]
    assert (size.default, size.minimum, size.maximum) == (15, 1, 50)


def test_every_type_expression_parses() -> None:
    for operation in load_spec():
        types = [param.type for param in operation.query]
        types += list(operation.response.fields.values())
        types += list(operation.response.item_fields.values())
        if operation.request_body is not None:
            types += list(operation.request_body.fields.values())
        assert all(kind.kind != "" for kind in types), operation.operation_id


@pytest.mark.parametrize(
    ("text", "kind", "optional"),
    [
        ("string(uuid)?", "string", True),
        ("array<enum[a|b]>", "array", False),
        ("object{page:number,size:number,hasMore:boolean}", "object", False),
        ("object? (map string -> string)", "object", True),
        ("enum[image|video]?", "enum", True),
    ],
)
def test_parse_type(text: str, kind: str, optional: bool) -> None:
    parsed = parse_type(text)
    assert (parsed.kind, parsed.optional) == (kind, optional)


def test_parse_type_names_a_bad_expression() -> None:
    with pytest.raises(ValueError, match="wibble"):
        parse_type("wibble<")


def test_routing_prefers_literal_segments_and_decodes_nothing() -> None:
    spec = load_spec()
    found = spec.resolve("GET", "/media/bulk")
    assert found is not None
    assert found[0].operation_id == "getBulkMedia"
    found = spec.resolve("POST", "/chats/abc/message")
    assert found is not None
    assert found == (spec.get("sendMessage"), {"userUuid": "abc"})
    assert spec.resolve("GET", "/nowhere") is None
    assert spec.resolve("PUT", "/users/me") is None


def test_every_path_resolves_to_its_own_operation() -> None:
    spec = load_spec()
    for operation in spec:
        sample = re.sub(r"\{\w+\}", "x1", operation.path)
        found = spec.resolve(operation.method, sample)
        assert found is not None
        assert found[0] is operation


def test_expand_path_encodes_and_names_mistakes() -> None:
    send = load_spec().get("sendMessage")
    assert send.expand_path({"userUuid": "a/b c"}) == "/chats/a%2Fb%20c/message"
    with pytest.raises(ValueError, match="userUuid"):
        send.expand_path({})
    with pytest.raises(ValueError, match="chatId"):
        send.expand_path({"userUuid": "u", "chatId": "x"})


def test_unknown_operation_is_named() -> None:
    with pytest.raises(ValueError, match=r"listfollowers.*listFollowers"):
        load_spec().get("listfollowers")
