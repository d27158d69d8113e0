"""SPEC 3 and 4 once more, through real nginx and uWSGI (`make run`'s stack)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.http import HTML, Reply, request
from tests.support.stack import Runner

SECURITY = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def assert_secure(reply: Reply) -> None:
    """The site's security headers, no nginx version, one request id."""
    for name, start in SECURITY.items():
        assert (reply.headers.get(name) or "").startswith(start), (name, reply.status)
    assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]
    assert reply.headers["Server"] == "nginx"
    assert len(reply.headers.get_all("X-Request-ID") or []) == 1
    assert re.fullmatch(r"[0-9a-f]{32}", reply.headers["X-Request-ID"])


@pytest.mark.parametrize(
    "path", ["/", "/category/orm", "/extensions/flask-login", "/search?q=cache"]
)
def test_site_pages(served: Runner, path: str) -> None:
    reply = served.get(path, headers=HTML)
    assert reply.status == 200 and reply.headers.get_content_type() == "text/html"
    assert_secure(reply)
    assert "/static/style.css?v=" in reply.text


def test_site_404_is_html_with_headers(stack: Runner) -> None:
    for path in ("/nope", "/backendx"):
        reply = stack.get(path, headers=HTML)
        assert reply.status == 404 and "<h1>Not Found</h1>" in reply.text
        assert_secure(reply)


def test_api_reads(served: Runner) -> None:
    assert served.get("/backend/healthz").json() == {"status": "ok"}
    index = served.get("/backend/").json()
    assert "/backend/api/extensions" in {e["path"] for e in index["endpoints"]}
    page = served.get("/backend/api/extensions?category=orm&per_page=2").json()
    assert page["per_page"] == 2 and page["links"]["next"].startswith("/backend/api/extensions?")
    assert served.get("/backend/api/extensions/flask-login").json()["slug"] == "flask-login"
    assert served.get("/backend/api/categories").json()["items"]


def test_api_browsable_html(served: Runner) -> None:
    reply = served.get("/backend/api/extensions/flask-login", headers=HTML)
    assert reply.headers.get_content_type() == "text/html"
    assert "Accept" in reply.headers["Vary"] and "/backend/static/api.css?v=" in reply.text
    assert_secure(reply)


def test_api_writes_and_errors(served: Runner) -> None:
    auth = {"Authorization": f"Bearer {served.token}", "Content-Type": "application/json"}
    body = {
        "slug": "flask-through-nginx",
        "name": "Flask-Through-Nginx",
        "category": "testing",
        "summary": "Written through nginx and uWSGI.",
        "homepage": "https://example.org/",
    }
    created = request(
        served.port, "POST", "/backend/api/extensions", headers=auth, body=json.dumps(body)
    )
    assert created.status == 201 and created.headers["Location"].endswith(
        "/backend/api/extensions/flask-through-nginx"
    )
    assert "Flask-Through-Nginx" in served.get("/extensions/flask-through-nginx").text
    errors = {
        401: request(served.port, "POST", "/backend/api/extensions", body=json.dumps(body)),
        409: request(
            served.port, "POST", "/backend/api/extensions", headers=auth, body=json.dumps(body)
        ),
        415: request(
            served.port,
            "POST",
            "/backend/api/extensions",
            headers={**auth, "Content-Type": "text/plain"},
            body="x",
        ),
        400: request(served.port, "POST", "/backend/api/extensions", headers=auth, body="{"),
        422: request(
            served.port,
            "PATCH",
            "/backend/api/extensions/flask-through-nginx",
            headers=auth,
            body='{"homepage": "nope"}',
        ),
        405: request(served.port, "DELETE", "/backend/api/extensions", headers=auth),
        404: served.get("/backend/api/extensions/nope"),
    }
    for status, reply in errors.items():
        assert reply.status == status, (status, reply.body)
        assert reply.json()["error"]["status"] == status
        assert_secure(reply)
    assert "POST" in errors[405].headers["Allow"]
    deleted = request(
        served.port, "DELETE", "/backend/api/extensions/flask-through-nginx", headers=auth
    )
    assert deleted.status == 204


def test_backend_slash_redirect_keeps_host_and_port(stack: Runner) -> None:
    reply = stack.get("/backend")
    assert reply.status == 308
    assert reply.headers["Location"] == f"http://127.0.0.1:{stack.port}/backend/"


def test_star_through_nginx(stack: Runner) -> None:
    reply = request(
        stack.port,
        "POST",
        "/stars/flask-login",
        headers={
            "Origin": f"http://127.0.0.1:{stack.port}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        body="action=star",
    )
    assert reply.status == 303
    cookie = reply.headers["Set-Cookie"]
    assert cookie.startswith("gateway_site_session=") and "Path=/" in cookie


def test_health(stack: Runner) -> None:
    body = stack.get("/_gateway/health").json()
    assert body["status"] == "ok" and body["cache"]["status"] == "ok"


# -- nginx's own part ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/static/style.css", "text/css"), ("/backend/static/api.css", "text/css")],
)
def test_static_files_are_served_by_nginx(stack: Runner, path: str, expected: str) -> None:
    reply = stack.get(path)
    assert reply.status == 200 and reply.headers.get_content_type() == expected
    # Only nginx says this; Flask's static view would answer "no-cache".
    assert reply.headers["Cache-Control"] == "max-age=31536000"
    assert_secure(reply)


@pytest.mark.parametrize(
    "path",
    [
        "/static../README.md",
        "/static/../gateway/settings.py",
        "/backend/static/../store.py",
        "/backend/static/../../uwsgi.ini",
        "/static/%2e%2e/gateway/settings.py",
    ],
)
def test_static_paths_cannot_escape(stack: Runner, path: str) -> None:
    reply = stack.get(path)
    assert reply.status in (400, 404)
    assert b"import" not in reply.body and b"[uwsgi]" not in reply.body


def test_unknown_host_is_rejected(stack: Runner) -> None:
    reply = stack.get("/", host="evil.example")
    assert reply.status == 421 and 'class="site-header"' in reply.text
    assert "gateway" not in reply.text.lower()
    api = stack.get("/backend/", host="evil.example")
    assert api.status == 421 and api.json()["error"]["status"] == 421
    assert stack.get("/", host="localhost").status == 200


def test_large_cookie_is_fine(stack: Runner) -> None:
    reply = stack.get("/", headers={"Cookie": "big=" + "a" * 6000})
    assert reply.status == 200


def test_bodies_over_the_limits_are_json_413(stack: Runner) -> None:
    for size in (10 * 1024 * 1024, 1536 * 1024):  # nginx's fence, then the app's own
        reply = stack.write("POST", "/backend/api/extensions", b"x" * size)
        assert reply.status == 413, size
        assert reply.json()["error"]["status"] == 413
        assert_secure(reply)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        pytest.param("client-chosen-id-123", True, id="well-formed"),
        pytest.param("0f1e2d3c", True, id="eight-chars"),
        pytest.param("a:b.c_d-e" + "x" * 119, True, id="128-chars"),
        pytest.param("short", False, id="too-short"),
        pytest.param("-leading-dash", False, id="bad-first-char"),
        pytest.param("has space in it", False, id="space"),
        pytest.param("x" * 129, False, id="129-chars"),
        pytest.param("inject%0aline", False, id="percent"),
    ],
)
def test_nginx_keeps_a_well_formed_request_id_and_logs_it(
    stack: Runner, sent: str, kept: bool
) -> None:
    reply = stack.get("/backend/healthz", headers={"X-Request-ID": sent})
    assert reply.headers.get_all("X-Request-ID") == [reply.headers["X-Request-ID"]]
    request_id = reply.headers["X-Request-ID"]
    if kept:
        assert request_id == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id
    line = stack.access_line(request_id)
    assert '"GET /backend/healthz HTTP/1.1" 200' in line and "upstream_status=200 " in line


def test_uwsgi_cache_is_shared_by_all_workers(stack: Runner) -> None:
    # Four workers answer in turn; only a store they share turns every read after the
    # first into a hit. The cookie names "session" (no app's): nginx leaves every one of
    # these reads to uWSGI instead of answering from its page file.
    python = {"Cookie": "probe_session=1"}
    seen = [stack.get("/category/mail", headers=python).headers["X-Cache"] for _ in range(12)]
    assert seen == ["MISS"] + ["HIT"] * 11


def test_cache_stats_command_reads_a_running_gateway(stack: Runner) -> None:
    for _ in range(3):
        stack.get("/category/testing")
    result = subprocess.run(
        [
            Path(sys.executable).parent / "gateway",
            "cache-stats",
            "--url",
            f"http://127.0.0.1:{stack.port}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "store: ok (in use)"
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:-1]}
    assert set(rows) == {"frontend", "backend", "gateway"}
    assert all(value.isdigit() for value in rows["frontend"])
    assert lines[-1].startswith("(worker pid ")


def test_an_answer_larger_than_a_cache_block_is_served_but_not_stored(stack: Runner) -> None:
    # uWSGI's cache silently drops values over its 64 KiB blocksize; the response cache
    # stores nothing over 60 KiB and counts it instead.
    slugs = [f"big-page-{n}" for n in range(100)]
    for slug in slugs:
        assert stack.create(slug, "uploads", "A long summary. " * 12).status == 201
    try:
        path = "/backend/api/extensions?category=uploads&per_page=100"
        replies = [stack.get(path, headers=HTML) for _ in range(6)]
        assert all(r.status == 200 for r in replies)
        assert len(replies[0].body) > 64 * 1024
        assert {r.headers["X-Cache"] for r in replies} == {"MISS"}
        assert all(r.body.count(b"big-page-") >= 100 for r in replies)
        small = "/backend/api/extensions?category=uploads&per_page=5"
        assert [stack.get(small).headers["X-Cache"] for _ in range(2)] == ["MISS", "HIT"]
    finally:
        for slug in slugs:
            stack.write("DELETE", f"/backend/api/extensions/{slug}")


def test_after_a_write_200_reads_over_all_workers_are_fresh(stack: Runner) -> None:
    pages = ["/category/mail", "/backend/api/extensions?category=mail"]
    for path in pages * 8:  # every worker has these in the shared cache now
        stack.get(path)
    assert stack.create("flask-fresh-mail", "mail", "Must show at once.").status == 201
    try:
        for n in range(200):
            assert b"flask-fresh-mail" in stack.get(pages[n % 2]).body, n
    finally:
        stack.write("DELETE", "/backend/api/extensions/flask-fresh-mail")
    for path in pages:
        assert b"flask-fresh-mail" not in stack.get(path).body
