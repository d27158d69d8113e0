"""The apps' response class (gateway.http.responses): an answer rendered whole reaches
the server as a list, with the same bytes and headers Werkzeug sends; anything else
keeps Werkzeug's iterator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, Response, stream_with_context
from werkzeug.test import create_environ, run_wsgi_app

from gateway.compose import Gateway
from gateway.http.responses import WholeResponse
from tests.support.wsgi import ignore_start_response


def app_of(response_class: type[Response]) -> Flask:
    app = Flask(__name__)
    app.response_class = response_class
    closed: list[str] = []
    app.config["CLOSED"] = closed

    @app.get("/whole")
    def whole() -> Any:
        return "café"

    @app.get("/texts")
    def texts() -> Any:
        return app.response_class(["a", "é"], mimetype="text/plain")

    @app.get("/empty/<int:status>")
    def empty(status: int) -> Any:
        return "", status

    @app.get("/stream")
    def stream() -> Any:
        def chunks() -> Iterator[str]:
            yield "one "
            yield "two"

        return app.response_class(stream_with_context(chunks()))

    @app.get("/closing")
    def closing() -> Any:
        response = app.response_class("bye")
        response.call_on_close(lambda: closed.append("closed"))
        return response

    return app


def answer(app: Flask, path: str, method: str = "GET") -> tuple[Any, str, dict[str, str]]:
    """The body object the app returns, its status and headers."""
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.update(status=status, headers=dict(headers))
        return ignore_start_response(status, headers)

    body = app(create_environ(path, method=method), start_response)
    return body, started["status"], started["headers"]


@pytest.mark.parametrize("path", ["/whole", "/texts"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_whole_answer_is_a_list_with_werkzeugs_bytes_and_headers(path: str, method: str) -> None:
    body, status, headers = answer(app_of(WholeResponse), path, method)
    reference, ref_status, ref_headers = run_wsgi_app(
        app_of(Response), create_environ(path, method=method), buffered=True
    )
    assert isinstance(body, list) and all(isinstance(chunk, bytes) for chunk in body)
    assert b"".join(body) == b"".join(reference)
    assert (status, headers) == (ref_status, dict(ref_headers))
    assert (body == []) == (method == "HEAD")


@pytest.mark.parametrize("status", [204, 304])
def test_answers_without_a_body_send_none(status: int) -> None:
    body, sent, _ = answer(app_of(WholeResponse), f"/empty/{status}")
    assert body == [] and sent.startswith(str(status))


def test_a_stream_and_an_answer_with_close_callbacks_keep_werkzeugs_iterator() -> None:
    app = app_of(WholeResponse)
    body, _, _ = answer(app, "/stream")
    assert not isinstance(body, list) and b"".join(body) == b"one two"
    body.close()
    body, _, _ = answer(app, "/closing")
    assert not isinstance(body, list) and b"".join(body) == b"bye"
    assert app.config["CLOSED"] == []
    body.close()  # the server's close() runs the callback, after the body was sent
    assert app.config["CLOSED"] == ["closed"]


def test_the_gateways_apps_answer_with_lists(gateway: Gateway) -> None:
    for path in ("/backend/healthz", "/backend/api/extensions", "/"):
        body = gateway(create_environ(path), ignore_start_response)
        assert isinstance(body, list), path
