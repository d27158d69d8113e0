"""The outermost layer (gateway.http.error_guard): any failure inside it is a clean 500 in the
format of the mount the path belongs to, around stub WSGI apps and in the gateway."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from werkzeug.test import create_environ, run_wsgi_app

from gateway.cache.middleware import ResponseCache
from gateway.compose import Gateway
from gateway.http.error_guard import JSON_PAGE, ErrorGuard, error_page
from gateway.http.request_id import ENVIRON_KEY, install_log_records
from tests.support.client import Client
from tests.support.wsgi import ignore_start_response

PAGES = {"": error_page("frontend_app"), "/backend": error_page("backend_app")}


def failing(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    raise RuntimeError("a layer broke")


def failing_late(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    raise RuntimeError("broke before the first byte")
    yield b"never"


def ok(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fine"]


def call(app: Any, path: str, method: str = "GET", **environ: str) -> tuple[str, Any, bytes]:
    env = create_environ(path, method=method)
    env.update(environ)
    body, status, headers = run_wsgi_app(app, env, buffered=True)
    return status, headers, b"".join(body)


@pytest.mark.parametrize("app", [failing, failing_late])
@pytest.mark.parametrize(
    "path,kind",
    [("/", "text/html"), ("/backendx", "text/html"), ("/backend", "application/json"),
     ("/backend/api/x", "application/json")],
)  # fmt: skip
def test_a_failure_is_a_500_in_the_mounts_format(app: Any, path: str, kind: str) -> None:
    status, headers, body = call(ErrorGuard(app, PAGES), path)
    assert status.startswith("500") and headers["Content-Type"].startswith(kind)
    assert headers["Content-Length"] == str(len(body)) and headers["Cache-Control"] == "no-store"
    if kind == "application/json":
        assert json.loads(body) == {
            "error": {"status": 500, "message": "Something went wrong on our side."}
        }
    else:
        assert b"<title>500 Internal Server Error" in body and b'class="site-header"' in body
        assert b"<!--#" not in body and b"Traceback" not in body


def test_the_request_id_is_logged_and_returned(caplog: pytest.LogCaptureFixture) -> None:
    install_log_records()  # what the gateway's logging setup does
    with caplog.at_level(logging.ERROR):
        _, headers, _ = call(ErrorGuard(failing, PAGES), "/", **{ENVIRON_KEY: "trace-me-0001"})
    assert headers["X-Request-ID"] == "trace-me-0001"
    record = next(r for r in caplog.records if r.name == "gateway.http.error_guard")
    assert record.request_id == "trace-me-0001" and record.exc_info  # type: ignore[attr-defined]
    # A malformed id is replaced, never logged as sent.
    _, headers, _ = call(ErrorGuard(failing, PAGES), "/", **{ENVIRON_KEY: "bad id\r\n"})
    assert headers["X-Request-ID"] != "bad id\r\n" and len(headers["X-Request-ID"]) == 32


def test_head_gets_no_body_and_healthy_answers_pass_untouched() -> None:
    status, _, body = call(ErrorGuard(failing, PAGES), "/", method="HEAD")
    assert status.startswith("500") and body == b""
    assert call(ErrorGuard(ok, PAGES), "/")[0] == "200 OK"
    assert call(ErrorGuard(ok, PAGES), "/")[2] == b"fine"


def test_a_failure_after_the_first_byte_still_closes_the_body() -> None:
    closed = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"first"
            raise RuntimeError("mid-answer")

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Any) -> Body:
        start_response("200 OK", [])
        return Body()

    body = ErrorGuard(app, PAGES)(create_environ("/"), ignore_start_response)
    chunks = iter(body)
    assert next(chunks) == b"first"
    with pytest.raises(RuntimeError):
        next(chunks)
    body.close()  # type: ignore[attr-defined]
    assert closed == [True]


def test_the_gateway_turns_a_failure_of_its_own_layers_into_a_500(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: ResponseCache, path: str) -> Any:
        raise ValueError("the cache's route table broke")

    monkeypatch.setattr(ResponseCache, "route_of", broken)
    client = Client(gateway)
    api = client.get("/backend/api/extensions", headers={"X-Request-ID": "api-failure-01"})
    assert api.status_code == 500 and api.json == json.loads(JSON_PAGE.body)
    assert api.headers["X-Request-ID"] == "api-failure-01"
    site = client.get("/")
    assert site.status_code == 500 and site.mimetype == "text/html"
    assert b"Something went wrong on our side." in site.data
    health = client.get("/_gateway/health")
    assert health.status_code == 500 and health.json["error"]["status"] == 500
    assert any(getattr(r, "request_id", "") == "api-failure-01" for r in caplog.records)


def strict_server(app: Any, path: str = "/") -> tuple[list[tuple[str, Any]], bytes]:
    """Call ``app`` as a strict server would: start_response once, never with exc_info
    (uWSGI 2.0 turns exc_info into a SystemError)."""
    calls: list[tuple[str, Any]] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        assert exc_info is None and not calls, "start_response called twice"
        calls.append((status, headers))
        return lambda data: None

    body = app(create_environ(path), start_response)
    data = b"".join(body)
    getattr(body, "close", lambda: None)()
    return calls, data


def test_an_answer_started_inside_then_failing_starts_once_as_a_500() -> None:
    def started_then_failed(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        raise RuntimeError("after start_response")

    calls, body = strict_server(ErrorGuard(started_then_failed, PAGES), "/backend/x")
    assert [c[0] for c in calls] == ["500 INTERNAL SERVER ERROR"] and b'"status": 500' in body
    calls, body = strict_server(ErrorGuard(failing_late, PAGES), "/")
    assert [c[0] for c in calls] == ["500 INTERNAL SERVER ERROR"] and b"<!doctype html>" in body


def test_generators_and_write_still_work() -> None:
    def generator(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])  # at the first next()
        yield b"a"
        yield b"b"

    def writer(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"early")
        return []

    assert strict_server(ErrorGuard(generator, PAGES)) == (
        [("200 OK", [("Content-Type", "text/plain")])],
        b"ab",
    )
    calls, _ = strict_server(ErrorGuard(writer, PAGES))
    assert [c[0] for c in calls] == ["200 OK"]
