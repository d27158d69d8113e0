"""Hits before Python: nginx answers shared answers from the app's page files
(gateway/cache/files.py, nginx.conf "Hits before Python"), and SPEC 8 holds on that path.

A file hit is the app's answer to the byte, so only nginx's access log tells the two
paths apart (no upstream on the line); the SIGSTOP test proves uWSGI is out of the path.
"""

from __future__ import annotations

import gzip
import json
from typing import cast

import pytest
from hypothesis import HealthCheck, assume, given, settings

from gateway.http.negotiation import preferred_type
from tests.support.accept_headers import accept_headers
from tests.support.forms import API_COOKIE, SITE_COOKIE
from tests.support.http import HTML, Reply, request
from tests.support.stack import Runner, uwsgi_stopped

JSON = {"Accept": "application/json"}
GZIP = {"Accept-Encoding": "gzip, deflate, br, zstd"}
# Headers that describe this one delivery, not the answer.
PER_DELIVERY = {"date", "x-request-id", "connection"}


def by_nginx(runner: Runner, reply: Reply) -> bool:
    """True when nginx answered from a page file."""
    return reply.headers.get("X-Cache") == "HIT" and runner.from_file(reply)


def warm(runner: Runner, path: str, headers: dict[str, str] | None = None) -> Reply:
    """Request ``path`` until nginx answers it from a file; that answer."""
    for _ in range(3):
        reply = runner.get(path, headers=headers or {})
        if by_nginx(runner, reply):
            return reply
    raise AssertionError(f"nginx never answered {path} {headers}: {reply.headers}")


HITS = [
    pytest.param("/", {}, id="home-any"),
    pytest.param("/", HTML, id="home-browser"),
    pytest.param("/category/forms", HTML, id="category"),
    pytest.param("/search?q=login", HTML, id="search-query"),
    pytest.param("/backend/api/categories", JSON, id="api-json"),
    pytest.param("/backend/api/extensions?category=forms", {}, id="api-query"),
    pytest.param("/backend/api/categories", HTML, id="api-html"),
]


def test_hits_are_answered_while_uwsgi_is_stopped(stack: Runner) -> None:
    warmed = {}
    for param in HITS:
        path, headers = cast(tuple[str, dict[str, str]], param.values)
        warmed[param.id] = warm(stack, path, headers)
    with uwsgi_stopped(stack):
        for param in HITS:
            path, headers = cast(tuple[str, dict[str, str]], param.values)
            reply = request(stack.port, "GET", path, headers=headers, timeout=3)
            assert by_nginx(stack, reply) and reply.body == warmed[param.id].body, param.id
            head = request(stack.port, "HEAD", path, headers=headers, timeout=3)
            assert head.status == 200 and by_nginx(stack, head) and head.body == b"", param.id
            assert head.headers["Content-Length"] == str(len(reply.body))


@pytest.mark.parametrize("path,headers", [p.values for p in HITS], ids=[p.id for p in HITS])
def test_a_hit_replays_the_apps_headers(stack: Runner, path: str, headers: dict[str, str]) -> None:
    hit = warm(stack, path, headers)
    # The same request through the app (a cookie named "...session..." that is no app's
    # session: nginx passes it on, the app serves its stored or a new answer).
    app = stack.get(path, headers={**headers, "Cookie": "not_a_session=1"})
    assert not by_nginx(stack, app) and app.headers["X-Cache"] == "HIT"

    # Byte for byte: every header but the date and the request id, the body.
    assert answer(hit) == answer(app)
    assert hit.body == app.body
    assert hit.headers["X-Request-ID"] != app.headers["X-Request-ID"]
    for extra in ("Accept-Ranges", "Last-Modified"):
        assert extra not in hit.headers
    assert hit.headers["ETag"] == app.headers["ETag"]


PRECONDITIONS = [
    {"If-Match": ""}, {"If-Match": "   "}, {"If-Match": '"nothing"'}, {"If-Match": "*"},
    {"If-Unmodified-Since": ""}, {"If-Unmodified-Since": " \t "},
    {"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}, {"If-Unmodified-Since": "junk"},
    {"If-None-Match": ""}, {"If-None-Match": '"x", W/"y"'}, {"If-None-Match": "x-1"},
    {"If-Modified-Since": ""}, {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
    {"Range": ""}, {"Range": "bytes=0-9"}, {"Range": "bytes=0-9", "If-Range": "x"},
    {"If-Match": "", "If-Unmodified-Since": "", "If-None-Match": "", "Range": "bytes=-1"},
]  # fmt: skip
PAGES = [("/", HTML), ("/backend/api/categories", JSON), ("/backend/", HTML)]


@pytest.mark.parametrize("path,headers", PAGES)
def test_preconditions_empty_or_not_get_the_apps_answer(
    stack: Runner, path: str, headers: dict[str, str]
) -> None:
    # None names the answer's ETag: a 200 with the whole answer, whoever serves it.
    hit = warm(stack, path, headers)
    for extra in PRECONDITIONS:
        reply = stack.get(path, headers={**headers, **extra})
        assert reply.status == 200 and reply.body == hit.body, extra
        assert reply.headers["Content-Type"] == hit.headers["Content-Type"], extra
        assert "Last-Modified" not in reply.headers and "Content-Range" not in reply.headers


def answer(reply: Reply) -> list[tuple[str, str]]:
    """The headers that describe the answer (not its delivery), in a stable order."""
    return sorted((k.lower(), v) for k, v in reply.headers.items() if k.lower() not in PER_DELIVERY)


@pytest.mark.parametrize("coding", [{}, GZIP], ids=["identity", "gzip"])
@pytest.mark.parametrize("path,headers", PAGES)
def test_every_coding_nginx_serves_is_the_apps_answer(
    stack: Runner, path: str, headers: dict[str, str], coding: dict[str, str]
) -> None:
    hit = warm(stack, path, {**headers, **coding})
    app = stack.get(path, headers={**headers, **coding, "Cookie": "not_a_session=1"})
    assert not by_nginx(stack, app) and answer(hit) == answer(app) and hit.body == app.body
    plain = stack.get(path, headers={**headers, "Cookie": "not_a_session=1"})
    if coding:
        assert hit.headers["Content-Encoding"] == "gzip" and len(hit.body) < len(plain.body)
        assert gzip.decompress(hit.body) == plain.body
    else:
        assert "Content-Encoding" not in hit.headers and hit.body == plain.body


@pytest.mark.parametrize("coding", [{}, GZIP], ids=["identity", "gzip"])
@pytest.mark.parametrize("path,headers", PAGES)
def test_revalidation_is_the_same_304_from_a_file_and_from_the_app(
    stack: Runner, path: str, headers: dict[str, str], coding: dict[str, str]
) -> None:
    hit = warm(stack, path, {**headers, **coding})
    tag = hit.headers["ETag"]
    for if_none_match in (tag, f"W/{tag}", f'"0-0", {tag}', "*"):
        asked = {**headers, **coding, "If-None-Match": if_none_match}
        from_file = stack.get(path, headers=asked)
        from_app = stack.get(path, headers={**asked, "Cookie": "not_a_session=1"})
        assert (from_file.status, from_app.status) == (304, 304), if_none_match
        assert by_nginx(stack, from_file) or if_none_match == "*"
        assert answer(from_file) == answer(from_app) and from_file.body == from_app.body == b""
        assert from_file.headers["ETag"] == tag and "Content-Type" not in from_file.headers
    stale = stack.get(path, headers={**headers, **coding, "If-None-Match": '"0-0"'})
    assert stale.status == 200 and stale.body == hit.body


SESSION_SHAPES = [
    f"{SITE_COOKIE}=x",
    f"{API_COOKIE}=x",
    f'a="b; {SITE_COOKIE}=x',
    f"a=b c; {API_COOKIE}=x",
    f"=; {SITE_COOKIE}=x",
    "GATEWAY_SITE_SESSION=x",
    "a=%67ateway_site_session",
    "a=\\147",
]


@pytest.mark.parametrize("cookie", SESSION_SHAPES)
@pytest.mark.parametrize("path", ["/", "/backend/api/categories"])
def test_a_request_naming_a_session_cookie_goes_to_the_app(
    stack: Runner, cookie: str, path: str
) -> None:
    warm(stack, path, HTML)
    reply = stack.get(path, headers={**HTML, "Cookie": cookie})
    assert not by_nginx(stack, reply)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Authorization": "Bearer x"}, id="authorization"),
        pytest.param({"Authorization": "Basic eDp5"}, id="basic"),
        pytest.param({"Cookie": "other=1", "Authorization": "x"}, id="cookie-and-auth"),
    ],
)
def test_authorization_goes_to_the_app(stack: Runner, headers: dict[str, str]) -> None:
    warm(stack, "/backend/api/categories", JSON)
    assert not by_nginx(stack, stack.get("/backend/api/categories", headers={**JSON, **headers}))


def test_other_cookies_still_get_hits(stack: Runner) -> None:
    warm(stack, "/", HTML)
    assert by_nginx(stack, stack.get("/", headers={**HTML, "Cookie": "theme=dark; _ga=GA1.1"}))


ODD_ACCEPT = [
    "text/html;q=0.5,*/*",
    "text/html,application/json",
    "application/json;q=0,*/*",
    "text/*",
    "TEXT/HTML",
    'text/html,"',
    "text/html,text/html;q=0",
    "image/png",
    "application/xhtml+xml,*/*;q=0.1",
]


@pytest.mark.parametrize(
    "accept",
    [
        *ODD_ACCEPT,
        '*/*, application/json;q="0"',
        '*/*, application/json;q="0.5"',
        "*/*, application/json;q*=utf-8''0",
        "*/*, application/json;q*0=0",
        'application/*;q="0", */*',
    ],
)
def test_odd_accept_headers_get_the_apps_variant(stack: Runner, accept: str) -> None:
    path = "/backend/api/categories"
    warm(stack, path, HTML)
    warm(stack, path, JSON)
    want = "text/html" if preferred_type(accept) == "text/html" else "application/json"
    for _ in range(2):
        reply = stack.get(path, headers={"Accept": accept})
        assert reply.headers["Content-Type"].split(";")[0] == want, reply.headers


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(accept=accept_headers())
def test_generated_accept_headers_get_the_apps_variant(stack: Runner, accept: str) -> None:
    # The property test of tests/unit/test_page_files.py, through the real nginx map.
    assume(not any(c in accept for c in "\r\n\x00"))  # not sendable as one header line
    path = "/backend/api/categories"
    warm(stack, path, HTML)
    warm(stack, path, JSON)
    reply = stack.get(path, headers={"Accept": accept})
    if reply.status != 200:  # a header past nginx's limit: its error, in JSON
        assert reply.status in (400, 431) and reply.json()["error"]["status"] == reply.status
        return
    assert reply.headers["Content-Type"].split(";")[0] == preferred_type(accept or None), accept


def test_variants_and_mounts_never_share_a_file(stack: Runner) -> None:
    html = warm(stack, "/backend/api/categories", HTML)
    data = warm(stack, "/backend/api/categories", JSON)
    assert html.headers["Content-Type"].startswith("text/html")
    assert json.loads(data.body)
    site = warm(stack, "/", HTML)
    api = warm(stack, "/backend/", JSON)
    assert site.body != api.body and api.headers["Content-Type"] == "application/json"
    slash = stack.get("/backend/ui/", headers=HTML)
    bare = stack.get("/backend/ui", headers=HTML)
    assert (slash.status, bare.status) != (200, 200) or slash.body != bare.body


def test_an_api_write_is_fresh_on_every_nginx_worker_at_once(stack: Runner) -> None:
    pages = [
        ("/category/forms", HTML),
        ("/backend/api/extensions?category=forms", JSON),
        ("/backend/api/extensions?category=forms", HTML),
    ]
    for path, headers in pages:
        warm(stack, path, headers)
    assert stack.create("flask-nginx-fresh", "forms", "Fresh after a write.").status == 201
    try:
        for n in range(30):
            path, headers = pages[n % 3]
            assert b"flask-nginx-fresh" in stack.get(path, headers=headers).body.lower(), n
    finally:
        assert stack.write("DELETE", "/backend/api/extensions/flask-nginx-fresh").status == 204
    for path, headers in pages:
        assert b"flask-nginx-fresh" not in stack.get(path, headers=headers).body.lower()


TRAVERSALS = [
    "/..%2f..%2fsecrets.json",
    "/%2e%2e/%2e%2e/secrets.json",
    "/a/../../secrets.json",
    "/?x=../../../secrets.json",
    "/?x=..%2f..%2f..%2fsecrets.json",
    "/?x=%2e%2e%2f%2e%2e%2fsecrets.json",
    "/..html",
    "/.lock",
    "/current",
    "/backend/..%2f..%2f..%2fsecrets.json",
    "/%00",
    "/%2F%2F",
    "/%2Fetc%2Fpasswd",
    "/backend%2F..%2F..%2Fsecrets.json",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_never_reaches_outside_the_pages_dir(stack: Runner, path: str) -> None:
    home = warm(stack, "/", HTML)
    reply = request(stack.port, "GET", path, headers=HTML)
    assert stack.token.encode() not in reply.body and b"root:" not in reply.body
    # nginx answers only what its normalised path names: "/%2F%2F" is "/" to nginx and
    # to the app alike (PATH_INFO is nginx's $document_uri).
    assert not by_nginx(stack, reply) or reply.body == home.body, (path, reply.status)


def test_a_write_changes_the_etag_nginx_and_the_app_answer(stack: Runner) -> None:
    path = "/backend/api/extensions?category=testing"
    old = warm(stack, path, JSON)
    assert stack.create("flask-etag-served", "testing", "A new ETag.").status == 201
    try:
        for cookie in ({}, {"Cookie": "not_a_session=1"}):  # nginx's file, then the app
            reply = stack.get(
                path, headers={**JSON, **cookie, "If-None-Match": old.headers["ETag"]}
            )
            assert reply.status == 200 and b"flask-etag-served" in reply.body
            assert reply.headers["ETag"] != old.headers["ETag"]
    finally:
        assert stack.write("DELETE", "/backend/api/extensions/flask-etag-served").status == 204
