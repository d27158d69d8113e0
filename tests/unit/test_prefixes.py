"""The mount that owns a path (gateway.http.prefixes): the same choice Werkzeug's
DispatcherMiddleware makes, for any path."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import create_environ

from gateway.http.prefixes import ByPrefix
from tests.support.wsgi import ignore_start_response

PREFIXES = ["", "/backend", "/_gateway", "/api/v2", "/api"]


def answering(prefix: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return [prefix.encode()]

    return app


DISPATCHER = DispatcherMiddleware(answering(""), {p: answering(p) for p in PREFIXES if p})
SEGMENTS = st.sampled_from(["backend", "backendx", "_gateway", "api", "v2", "v", "", "x"])


def dispatched(path: str) -> str:
    environ = create_environ()
    environ["PATH_INFO"] = path
    return b"".join(DISPATCHER(environ, ignore_start_response)).decode()


@given(st.lists(SEGMENTS, max_size=4), st.booleans())
def test_the_owner_is_the_dispatchers_choice(segments: list[str], slash: bool) -> None:
    path = "/" + "/".join(segments) + ("/" if slash else "")
    assert ByPrefix((p, p) for p in PREFIXES).of(path) == dispatched(path)


@pytest.mark.parametrize(
    "path,owner",
    [("/backend", "/backend"), ("/backend/", "/backend"), ("/backendx", ""),
     ("/api/v2/x", "/api/v2"), ("/api/v", "/api"), ("*", ""), ("", "")],
)  # fmt: skip
def test_named_paths(path: str, owner: str) -> None:
    assert ByPrefix((p, p) for p in PREFIXES).of(path) == owner


def test_a_table_without_a_mount_owns_nothing() -> None:
    table: ByPrefix[str] = ByPrefix([])  # a cache built only to invalidate has no routes
    with pytest.raises(LookupError):
        table.of("/")
