"""Malformed input through nginx and uWSGI: a 4xx in the app's format, never a 5xx."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.http import Reply, request
from tests.support.stack import Runner

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SAMPLE = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SAMPLE
@given(page=st.text(max_size=30))
def test_arbitrary_page_numbers(stack: Runner, page: str) -> None:
    query = urlencode({"q": "flask", "page": page})
    site = stack.get(f"/search?{query}")
    api = stack.get(f"/backend/api/extensions?{urlencode({'page': page, 'per_page': page})}")
    assert site.status in (200, 400, 404) and site.headers.get_content_type() == "text/html"
    assert api.status in (200, 400) and api.headers.get_content_type() == "application/json"


def star_then_go(stack: Runner, target: str) -> Reply:
    """A new visitor's star form, with ``target`` as where to go back to."""
    return request(
        stack.port,
        "POST",
        "/stars/flask-login",
        headers={**FORM, "Origin": f"http://127.0.0.1:{stack.port}"},
        body=urlencode({"action": "star", "next": target}),
    )


@SAMPLE
@given(target=st.text(max_size=30) | st.text(max_size=30).map(lambda text: "/" + text))
def test_arbitrary_star_form_targets_stay_on_the_site(stack: Runner, target: str) -> None:
    reply = star_then_go(stack, target)
    assert reply.status == 303
    location = reply.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location


def test_the_reported_attacks(stack: Runner) -> None:
    for path in (
        "/search?q=flask&page=" + "9" * 25,
        "/search?q=flask&page=" + quote("²"),
        "/backend/api/extensions?page=" + "9" * 25,
        "/backend/api/extensions?page=" + quote("²"),
    ):
        assert stack.get(path).status == 400, path
    for target in ("/\t/evil.example", "/ok\n/evil", "/\\evil.example", "//evil.example"):
        reply = star_then_go(stack, target)
        assert reply.status == 303 and reply.headers["Location"] == "/extensions/flask-login"
    deep = b'{"slug": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    reply = stack.write("POST", "/backend/api/extensions", deep)
    assert reply.status == 400 and "nested deeper" in reply.json()["error"]["message"]
    for body in ('{"slug": NaN}', '{"slug": Infinity}', '{"slug": 1e999}'):
        reply = stack.write("POST", "/backend/api/extensions", body)
        assert reply.status == 400 and reply.json()["error"]["status"] == 400, body
    assert "error" in json.loads(stack.get("/backend/api/extensions?per_page=0").body)
