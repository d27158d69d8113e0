"""gzip and revalidation (gateway.http.compression, gateway.http.conditional, gateway.http.etags):
around stub WSGI apps, then through the composed gateway and its shared cache."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from werkzeug.test import create_environ, run_wsgi_app

from gateway.http.compression import MIN_SIZE, Compression
from gateway.http.conditional import Conditional
from gateway.http.etags import body_stamp, stamp_of, strong_etag
from tests.support.client import Client
from tests.support.http import HTML
from tests.support.settings import AUTH

GZIP = {"Accept-Encoding": "gzip, deflate, br, zstd"}
PAGE = b"<!doctype html><p>" + b"a catalogue page " * 64


def stub(body: bytes, kind: str = "text/html; charset=utf-8", **extra: str) -> Any:
    """A WSGI app answering ``body`` with its own strong ETag."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        headers = [("Content-Type", kind), ("Content-Length", str(len(body)))]
        headers += [("ETag", strong_etag(body_stamp(body), len(body)))]
        start_response("200 OK", headers + list(extra.items()))
        return [body] if environ["REQUEST_METHOD"] != "HEAD" else []

    return app


def call(app: Any, method: str = "GET", **headers: str) -> tuple[str, Any, bytes]:
    env = create_environ("/", method=method, headers=headers)
    body, status, answer = run_wsgi_app(app, env, buffered=True)
    return status, answer, b"".join(body)


def test_text_is_gzipped_for_a_client_that_takes_it() -> None:
    status, headers, body = call(Compression(stub(PAGE)), **GZIP)
    assert status == "200 OK" and headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == PAGE and headers["Content-Length"] == str(len(body))
    assert headers["Vary"] == "Accept-Encoding"
    # The same stamp (the same answer), the length of the bytes sent.
    assert stamp_of(headers["ETag"]) == body_stamp(PAGE)
    assert headers["ETag"] == strong_etag(body_stamp(PAGE), len(body))


@pytest.mark.parametrize("accept", ["", "br", "gzip;q=0", "identity, gzip;q=0.5"])
def test_identity_for_a_client_that_does_not(accept: str) -> None:
    status, headers, body = call(Compression(stub(PAGE)), **{"Accept-Encoding": accept})
    assert "Content-Encoding" not in headers and body == PAGE
    assert headers["Vary"] == "Accept-Encoding"  # it varies all the same
    assert headers["ETag"] == strong_etag(body_stamp(PAGE), len(PAGE))


def test_head_gets_the_gzipped_length_and_no_body() -> None:
    _, get, body = call(Compression(stub(PAGE)), **GZIP)
    status, head, nothing = call(Compression(stub(PAGE)), "HEAD", **GZIP)
    assert nothing == b"" and head["Content-Length"] == get["Content-Length"]
    assert head["ETag"] == get["ETag"] and head["Content-Encoding"] == "gzip"


@pytest.mark.parametrize(
    "app",
    [
        stub(PAGE, "image/png"),
        stub(b"x" * (MIN_SIZE - 1)),
        stub(PAGE, **{"Content-Encoding": "br"}),
    ],
    ids=["not-text", "small", "already-encoded"],
)
def test_what_is_left_alone(app: Any) -> None:
    _, headers, body = call(Compression(app), **GZIP)
    assert headers.get("Content-Encoding") != "gzip" and len(body) in (len(PAGE), MIN_SIZE - 1)


def test_vary_keeps_what_the_app_said() -> None:
    _, headers, _ = call(Compression(stub(PAGE, Vary="Accept, Cookie")), **GZIP)
    assert headers.get_all("Vary") == ["Accept, Cookie, Accept-Encoding"]


def test_a_generator_app_is_passed_through() -> None:
    def generator(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield PAGE

    status, headers, body = call(Compression(generator), **GZIP)
    assert status == "200 OK" and body == PAGE and headers["Vary"] == "Accept-Encoding"


@pytest.mark.parametrize(
    "if_none_match,status",
    [
        ("TAG", "304"),
        ("W/TAG", "304"),
        ('"other-1", TAG', "304"),
        ("*", "304"),
        ('"other-1"', "200"),
        ("", "200"),
    ],
)
def test_if_none_match_gets_a_304_without_the_body(if_none_match: str, status: str) -> None:
    app = Conditional(stub(PAGE, Vary="Cookie"))
    tag = strong_etag(body_stamp(PAGE), len(PAGE))
    got, headers, body = call(app, **{"If-None-Match": if_none_match.replace("TAG", tag)})
    assert got.startswith(status)
    if status == "304":
        assert body == b"" and headers["ETag"] == tag and headers["Vary"] == "Cookie"
        assert "Content-Type" not in headers and "Content-Length" not in headers
    else:
        assert body == PAGE


# -- through the gateway -----------------------------------------------------------------


def test_each_coding_is_its_own_hit_and_decompresses_to_the_same_page(client: Client) -> None:
    plain = [client.get("/category/orm") for _ in range(2)]
    packed = [client.get("/category/orm", headers=GZIP) for _ in range(2)]
    assert [r.headers["X-Cache"] for r in plain + packed] == ["MISS", "HIT", "MISS", "HIT"]
    assert packed[1].headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed[1].data) == plain[1].data
    assert plain[1].headers["Vary"] == packed[1].headers["Vary"] == "Cookie, Accept-Encoding"
    assert stamp_of(plain[1].headers["ETag"]) == stamp_of(packed[1].headers["ETag"])
    assert plain[1].headers["ETag"] != packed[1].headers["ETag"]


@pytest.mark.parametrize("headers", [{}, GZIP], ids=["identity", "gzip"])
def test_revalidation_costs_a_304_on_a_miss_and_on_a_hit(
    client: Client, headers: dict[str, str]
) -> None:
    first = client.get("/backend/api/extensions?category=orm", headers=headers)
    tag = first.headers["ETag"]
    for _ in range(2):  # the first from the app, the second from the store
        again = client.get(
            "/backend/api/extensions?category=orm", headers={**headers, "If-None-Match": tag}
        )
        assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == tag
        assert "Content-Type" not in again.headers
    assert again.headers["X-Cache"] == "HIT"


def test_a_changed_catalogue_changes_the_etag(client: Client) -> None:
    before = client.get("/category/testing", headers=HTML).headers["ETag"]
    assert (
        client.get("/category/testing", headers={**HTML, "If-None-Match": before}).status_code
        == 304
    )
    created = client.post(
        "/backend/api/extensions",
        json={
            "slug": "flask-etag-test",
            "name": "Flask-ETag-Test",
            "category": "testing",
            "summary": "Changes the category page.",
            "homepage": "https://example.org/",
        },
        headers=AUTH,
    )
    assert created.status_code == 201
    after = client.get("/category/testing", headers={**HTML, "If-None-Match": before})
    assert after.status_code == 200 and after.headers["ETag"] != before
    assert b"Flask-ETag-Test" in after.data


def test_personal_pages_carry_no_etag_and_are_never_304(client: Client) -> None:
    # A first star needs no token (no session yet); it makes the visitor's pages personal.
    starred = client.post(
        "/stars/flask-login",
        data={"action": "star"},
        headers={**HTML, "Origin": "http://localhost"},
    )
    assert starred.status_code == 303
    page = client.get("/extensions/flask-login", headers=HTML)
    assert "ETag" not in page.headers and "public" not in page.headers.get("Cache-Control", "")
    again = client.get("/extensions/flask-login", headers={**HTML, "If-None-Match": "*"})
    assert again.status_code == 200 and b"unstar" in again.data
