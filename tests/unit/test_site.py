"""The website at /: pages, errors, and stars in the site's own session."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gateway.compose import build_gateway
from tests.support.catalogue import corrupt_catalogue
from tests.support.client import Client
from tests.support.http import HTML
from tests.support.settings import make_settings


@pytest.fixture
def database_url(any_database: str | None) -> str | None:
    """Every test of this module that uses the ``settings`` fixture runs on both engines."""
    return any_database


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SAME_SITE = {"Origin": "http://localhost"}


class Links(HTMLParser):
    """Collects href/src/action targets and checks that ids are unique."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src", "action") and value:
                self.targets.append(value)
            if name == "id" and value:
                self.ids.append(value)


def parse(html: str) -> Links:
    links = Links()
    links.feed(html)
    return links


@pytest.mark.parametrize(
    "path", ["/", "/category/orm", "/extensions/flask-login", "/search?q=login", "/search"]
)
def test_pages_render_in_the_layout(client: Client, path: str) -> None:
    response = client.get(path, headers=HTML)
    assert response.status_code == 200 and response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert text.startswith("<!doctype html>") and '<html lang="en">' in text
    assert 'name="viewport"' in text and 'href="#main"' in text
    links = parse(text)
    assert len(links.ids) == len(set(links.ids)), "duplicate ids"
    assert any(t.startswith("/static/style.css?v=") for t in links.targets)
    assert "/backend/" in links.targets  # the API link points under the mount


def test_home_shows_categories_counts_recent_and_search(client: Client) -> None:
    text = client.get("/").get_data(as_text=True)
    assert 'href="/category/orm"' in text and 'class="count"' in text
    assert "Recently updated" in text
    assert 'action="/search"' in text


def test_every_internal_link_of_the_site_resolves(client: Client) -> None:
    seen: set[str] = set()
    queue = ["/"]
    while queue and len(seen) < 200:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path, headers=HTML)
        assert response.status_code == 200, path
        if response.mimetype != "text/html":
            continue
        for target in parse(response.get_data(as_text=True)).targets:
            if target.startswith("/") and not target.startswith(("/stars/", "//")):
                queue.append(target.split("#")[0])
    assert "/category/orm" in seen and "/backend/api/extensions" in seen


def test_category_and_search_paginate(client: Client) -> None:
    text = client.get("/search?q=flask").get_data(as_text=True)
    assert 'rel="next" href="/search?page=2&amp;q=flask"' in text
    assert client.get("/search?q=flask&page=2").status_code == 200
    assert client.get("/search?q=flask&page=99").status_code == 404
    assert client.get("/search?q=flask&page=x").status_code == 400


def test_search_without_results_and_too_long(client: Client) -> None:
    assert "No extension matches" in client.get("/search?q=zzzqqq").get_data(as_text=True)
    assert client.get("/search?q=" + "a" * 101).status_code == 400


@pytest.mark.parametrize("path", ["/nope", "/category/nope", "/extensions/nope", "/backendx"])
def test_unknown_pages_are_html_404_in_the_layout(client: Client, path: str) -> None:
    response = client.get(path, headers=HTML)
    assert response.status_code == 404 and response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "<h1>Not Found</h1>" in text and "/static/style.css" in text


def test_405_page_keeps_allow(client: Client) -> None:
    response = client.post("/extensions/flask-login", headers=SAME_SITE)
    assert response.status_code == 405 and response.mimetype == "text/html"
    assert "GET" in response.headers["Allow"]


def test_server_error_is_an_html_page_without_traceback(tmp_path: Path) -> None:
    gateway = build_gateway(make_settings(tmp_path, GATEWAY_PROPAGATE_EXCEPTIONS="false"))
    client = Client(gateway)
    corrupt_catalogue(gateway, tmp_path)
    response = client.get("/", headers=HTML)
    assert response.status_code == 500 and response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "Something went wrong" in text and "/static/style.css" in text
    assert "Traceback" not in text and "sqlite" not in text.lower()


def test_static_file(client: Client) -> None:
    response = client.get("/static/style.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert client.get("/static/../settings.py").status_code == 404


# -- stars ---------------------------------------------------------------------------


def star(client: Client, slug: str, action: str = "star", **extra: str) -> int:
    response = client.post(
        f"/stars/{slug}", data={"action": action, **extra}, headers={**HTML, **SAME_SITE}
    )
    return response.status_code


def token_of(client: Client, path: str) -> str:
    found = CSRF.search(client.get(path, headers=HTML).get_data(as_text=True))
    assert found
    return found.group(1)


def test_visitor_without_stars_carries_no_cookie(client: Client) -> None:
    for path in ("/", "/extensions/flask-login", "/search?q=x", "/category/orm"):
        response = client.get(path, headers=HTML)
        assert "Set-Cookie" not in response.headers
        assert 'name="csrf_token"' not in response.get_data(as_text=True)
    assert client.get_cookie("gateway_site_session") is None


def test_star_and_unstar(client: Client) -> None:
    response = client.post(
        "/stars/flask-login",
        data={"action": "star", "next": "/category/authentication"},
        headers={**HTML, **SAME_SITE},
    )
    assert (
        response.status_code == 303 and response.headers["Location"] == "/category/authentication"
    )
    cookie = client.get_cookie("gateway_site_session")
    assert cookie is not None and cookie.path == "/" and cookie.http_only
    # Stars show on every page, the API's browsable pages aside (they are another app).
    for path in ("/", "/search", "/category/orm"):
        assert 'href="/extensions/flask-login">flask-login' in client.get(path).get_data(
            as_text=True
        )
    page = client.get("/extensions/flask-login").get_data(as_text=True)
    assert 'value="unstar" aria-pressed="true"' in page

    token = token_of(client, "/extensions/flask-login")
    assert star(client, "flask-login", "unstar", csrf_token=token) == 303
    # The last unstar drops the cookie: the visitor is cacheable again.
    assert client.get_cookie("gateway_site_session") is None


def test_star_with_a_session_needs_the_csrf_token(client: Client) -> None:
    assert star(client, "flask-login") == 303
    assert star(client, "flask-mail") == 400
    assert star(client, "flask-mail", csrf_token=token_of(client, "/")) == 303


def test_cross_site_star_is_refused(client: Client) -> None:
    response = client.post(
        "/stars/flask-login", data={"action": "star"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert client.get_cookie("gateway_site_session") is None


def test_star_rejects_bad_input(client: Client) -> None:
    assert star(client, "nope") == 404
    assert star(client, "flask-login", "explode") == 400
    assert client.get_cookie("gateway_site_session") is None


def test_open_redirects_are_not_followed(client: Client) -> None:
    response = client.post(
        "/stars/flask-login",
        data={"action": "star", "next": "//evil.example/"},
        headers={**HTML, **SAME_SITE},
    )
    assert response.headers["Location"] == "/extensions/flask-login"
