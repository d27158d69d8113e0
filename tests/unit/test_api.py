"""The JSON API at /backend, driven through the composed WSGI callable."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from gateway.compose import Gateway, build_gateway
from tests.support.catalogue import corrupt_catalogue, extension
from tests.support.client import Client
from tests.support.http import HTML
from tests.support.settings import AUTH, make_settings


@pytest.fixture
def database_url(any_database: str | None) -> str | None:
    """Every test of this module that uses the ``settings`` fixture runs on both engines."""
    return any_database


FIXTURE = json.loads(Path("backend_app/fixtures/extensions.json").read_text())


def error_of(response: Any, status: int) -> dict[str, Any]:
    """Assert ``response`` is the API's JSON error with ``status``; return its body."""
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.json["error"]
    assert body["status"] == status
    assert body["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def catalogue(client: Client) -> list[dict[str, Any]]:
    """Every extension, as the API lists it."""
    items: list[dict[str, Any]] = (
        client.get("/backend/api/extensions?per_page=100&page=1").json["items"]
        + client.get("/backend/api/extensions?per_page=100&page=2").json["items"]
    )
    return items


# -- reads ---------------------------------------------------------------------------


def test_index_lists_endpoints_with_public_paths(client: Client) -> None:
    body = client.get("/backend/").json
    assert body["version"] == "1.0"
    paths = {e["path"] for e in body["endpoints"]}
    assert {
        "/backend/api/extensions",
        "/backend/api/extensions/<slug>",
        "/backend/healthz",
    } <= paths
    assert "/backend/api/categories" in paths


def test_healthz(client: Client) -> None:
    response = client.get("/backend/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_fixture_is_seeded_on_first_start(client: Client) -> None:
    assert len(FIXTURE["extensions"]) >= 40
    body = client.get("/backend/api/extensions").json
    assert body["total"] == len(FIXTURE["extensions"])
    first = body["items"][0]
    assert set(first) >= {"name", "slug", "category", "summary", "homepage", "created_at"}
    assert first["url"] == f"/backend/api/extensions/{first['slug']}"
    assert first["page"] == f"/extensions/{first['slug']}"


def test_seed_runs_once_per_data_dir(settings: dict[str, Any]) -> None:
    first = Client(build_gateway(settings))
    assert first.delete("/backend/api/extensions/flask-login", headers=AUTH).status_code == 204
    again = Client(build_gateway(settings))
    assert again.get("/backend/api/extensions/flask-login").status_code == 404
    assert again.get("/backend/api/extensions").json["total"] == len(FIXTURE["extensions"]) - 1


def test_pagination(client: Client) -> None:
    body = client.get("/backend/api/extensions?per_page=10&page=2").json
    assert body["page"] == 2 and body["per_page"] == 10 and len(body["items"]) == 10
    assert body["links"]["prev"] == "/backend/api/extensions?page=1&per_page=10"
    assert body["links"]["next"] == "/backend/api/extensions?page=3&per_page=10"
    last = client.get(f"/backend/api/extensions?per_page=10&page={body['pages']}").json
    assert last["links"]["next"] is None
    slugs = [e["slug"] for e in catalogue(client)]
    assert len(slugs) == len(set(slugs)) == body["total"]


def test_filter_by_category_and_text(client: Client) -> None:
    orm = client.get("/backend/api/extensions?category=orm").json
    assert orm["total"] >= 2 and all(e["category"] == "orm" for e in orm["items"])
    found = client.get("/backend/api/extensions?q=sqlalchemy").json
    assert "flask-sqlalchemy" in {e["slug"] for e in found["items"]}
    # LIKE wildcards in the query are plain characters.
    assert client.get("/backend/api/extensions?q=%25").json["total"] == 0


@pytest.mark.parametrize(
    "query", ["page=0", "page=x", "per_page=0", "per_page=101", "page=-1", "q=" + "a" * 101]
)
def test_bad_list_arguments_are_400(client: Client, query: str) -> None:
    error_of(client.get(f"/backend/api/extensions?{query}"), 400)


def test_one_extension_and_categories(client: Client) -> None:
    body = client.get("/backend/api/extensions/flask-caching").json
    assert body["name"] == "Flask-Caching" and body["category"] == "caching"
    categories = client.get("/backend/api/categories").json["items"]
    assert {c["slug"] for c in categories} >= {"orm", "rest", "testing", "caching", "mail"}
    assert sum(c["count"] for c in categories) == len(FIXTURE["extensions"])
    assert categories[0]["url"].startswith("/backend/api/extensions?category=")


# -- errors --------------------------------------------------------------------------


def test_unknown_path_and_slug_are_json_404(client: Client) -> None:
    error_of(client.get("/backend/nope"), 404)
    error_of(client.get("/backend/api/extensions/nope"), 404)
    error_of(client.put("/backend/api/extensions/nope", json=extension("nope"), headers=AUTH), 404)
    error_of(client.delete("/backend/api/extensions/nope", headers=AUTH), 404)


def test_405_carries_allow(client: Client) -> None:
    response = client.delete("/backend/api/extensions", headers=AUTH)
    error_of(response, 405)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dXNlcjpwYXNz"}]
)
def test_writes_need_the_bearer_token(client: Client, headers: dict[str, str]) -> None:
    for response in (
        client.post("/backend/api/extensions", json=extension(), headers=headers),
        client.patch("/backend/api/extensions/flask-login", json={"name": "x"}, headers=headers),
        client.put("/backend/api/extensions/flask-login", json=extension(), headers=headers),
        client.delete("/backend/api/extensions/flask-login", headers=headers),
    ):
        error_of(response, 401)
        assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert client.get("/backend/api/extensions/flask-login").json["name"] == "Flask-Login"
    assert client.get("/backend/api/extensions/flask-example").status_code == 404


def test_malformed_json_is_400(client: Client) -> None:
    for body in (b"{", b"[1, 2]", b"\xff"):
        response = client.post(
            "/backend/api/extensions",
            data=body,
            headers={**AUTH, "Content-Type": "application/json"},
        )
        error_of(response, 400)


def test_not_json_is_415(client: Client) -> None:
    response = client.post("/backend/api/extensions", data=extension(), headers=AUTH)
    error_of(response, 415)


def test_body_over_the_limit_is_413(client: Client) -> None:
    big = json.dumps({**extension(), "summary": "x" * (2 * 1024 * 1024)})
    response = client.post(
        "/backend/api/extensions",
        data=big,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    error_of(response, 413)


def test_limit_is_configurable(tmp_path: Path) -> None:
    client = Client(build_gateway(make_settings(tmp_path, BACKEND_MAX_CONTENT_LENGTH="100")))
    response = client.post("/backend/api/extensions", json=extension(), headers=AUTH)
    error_of(response, 413)


def test_duplicate_slug_is_409(client: Client) -> None:
    response = client.post("/backend/api/extensions", json=extension("flask-login"), headers=AUTH)
    error_of(response, 409)
    assert client.get("/backend/api/extensions/flask-login").json["name"] == "Flask-Login"
    renamed = client.patch(
        "/backend/api/extensions/flask-mail", json={"slug": "flask-login"}, headers=AUTH
    )
    error_of(renamed, 409)
    assert client.get("/backend/api/extensions/flask-mail").status_code == 200


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({**extension(), "slug": "Not A Slug"}, {"slug"}),
        ({**extension(), "homepage": "javascript:alert(1)"}, {"homepage"}),
        ({**extension(), "category": "nope"}, {"category"}),
        ({**extension(), "name": ""}, {"name"}),
        ({**extension(), "summary": "two\nlines"}, {"summary"}),
        ({**extension(), "name": 3}, {"name"}),
        ({**extension(), "stars": "5"}, {"stars"}),
        ({"slug": "only-a-slug"}, {"name", "category", "summary", "homepage"}),
    ],
)
def test_invalid_fields_are_422_with_reasons(
    client: Client, body: dict[str, Any], fields: set[str]
) -> None:
    before = catalogue(client)
    error = error_of(client.post("/backend/api/extensions", json=body, headers=AUTH), 422)
    assert set(error["fields"]) == fields
    assert all(isinstance(reason, str) and reason for reason in error["fields"].values())
    assert catalogue(client) == before


def test_rejected_writes_change_nothing(client: Client) -> None:
    before = catalogue(client)
    attempts = [
        client.post(
            "/backend/api/extensions",
            data=b"{",
            headers={**AUTH, "Content-Type": "application/json"},
        ),
        client.post("/backend/api/extensions", json=extension("flask-login")),
        client.post("/backend/api/extensions", json=extension("flask-login"), headers=AUTH),
        client.post(
            "/backend/api/extensions",
            data="x" * (2 << 20),
            headers={**AUTH, "Content-Type": "application/json"},
        ),
        client.post("/backend/api/extensions", data="slug=x", headers=AUTH),
        client.put("/backend/api/extensions/flask-mail", json={"name": "Mail"}, headers=AUTH),
        client.patch(
            "/backend/api/extensions/flask-mail", json={"homepage": "ftp://x"}, headers=AUTH
        ),
        client.patch("/backend/api/extensions/flask-mail", json={}, headers=AUTH),
    ]
    assert [r.status_code for r in attempts] == [400, 401, 409, 413, 415, 422, 422, 422]
    assert catalogue(client) == before


def test_server_error_is_json_without_traceback(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, GATEWAY_PROPAGATE_EXCEPTIONS="false")
    gateway = build_gateway(settings)
    client = Client(gateway)
    # A real fault: the catalogue file is overwritten with garbage under the app.
    corrupt_catalogue(gateway, tmp_path)
    body = error_of(client.get("/backend/api/extensions"), 500)
    assert "database" not in body["message"].lower()


# -- writes --------------------------------------------------------------------------


def test_create_read_back_by_both_apps(client: Client) -> None:
    response = client.post("/backend/api/extensions", json=extension(), headers=AUTH)
    assert response.status_code == 201
    assert response.headers["Location"] == "/backend/api/extensions/flask-example"
    created = response.json
    assert created["created_at"] == created["updated_at"]
    assert client.get("/backend/api/extensions/flask-example").json == created
    page = client.get("/extensions/flask-example")
    assert page.status_code == 200 and "Flask-Example" in page.get_data(as_text=True)
    assert "Flask-Example" in client.get("/category/testing").get_data(as_text=True)
    assert "Flask-Example" in client.get("/search?q=example").get_data(as_text=True)


def test_put_patch_delete(client: Client) -> None:
    client.post("/backend/api/extensions", json=extension(), headers=AUTH)
    put = client.put(
        "/backend/api/extensions/flask-example",
        json={k: v for k, v in extension(name="Flask-Replaced").items() if k != "slug"},
        headers=AUTH,
    )
    assert put.status_code == 200 and put.json["name"] == "Flask-Replaced"
    patch = client.patch(
        "/backend/api/extensions/flask-example",
        json={"summary": "Changed.", "slug": "flask-renamed"},
        headers=AUTH,
    )
    assert patch.status_code == 200
    assert patch.json["summary"] == "Changed." and patch.json["name"] == "Flask-Replaced"
    assert client.get("/backend/api/extensions/flask-example").status_code == 404
    assert "Changed." in client.get("/extensions/flask-renamed").get_data(as_text=True)
    assert client.delete("/backend/api/extensions/flask-renamed", headers=AUTH).status_code == 204
    assert client.get("/backend/api/extensions/flask-renamed").status_code == 404
    assert client.get("/extensions/flask-renamed").status_code == 404


def test_write_is_logged_with_the_request_id(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    request_id = "0123456789abcdef0123456789abcdef"
    response = client.post(
        "/backend/api/extensions", json=extension(), headers={**AUTH, "X-Request-ID": request_id}
    )
    assert response.headers["X-Request-ID"] == request_id
    lines = [r for r in caplog.records if "created extension flask-example" in r.getMessage()]
    assert [r.request_id for r in lines] == [request_id]  # type: ignore[attr-defined]


def test_concurrent_creates_all_land(gateway: Gateway) -> None:
    failures: list[int] = []

    def create(worker: int) -> None:
        client = Client(gateway)
        for n in range(50):
            body = extension(f"concurrent-{worker}-{n}", name=f"Concurrent {worker}/{n}")
            status = client.post("/backend/api/extensions", json=body, headers=AUTH).status_code
            if status != 201:
                failures.append(status)

    threads = [threading.Thread(target=create, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    client = Client(gateway)
    found = client.get("/backend/api/extensions?q=concurrent-&per_page=100").json
    assert found["total"] == 400
    for worker in range(8):
        for n in (0, 49):
            assert client.get(f"/backend/api/extensions/concurrent-{worker}-{n}").status_code == 200


# -- content negotiation -------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/backend/",
        "/backend/api/extensions",
        "/backend/api/extensions?category=orm",
        "/backend/api/extensions/flask-login",
        "/backend/api/categories",
    ],
)
def test_browsers_get_html_others_json(client: Client, path: str) -> None:
    page = client.get(path, headers=HTML)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Accept" in page.headers["Vary"]
    text = page.get_data(as_text=True)
    assert "/backend/static/api.css" in text and 'href="/backend/api/extensions' in text
    for accept in (None, "application/json", "*/*", "application/json, text/html;q=0.9"):
        response = client.get(path, headers={"Accept": accept} if accept else {})
        assert response.mimetype == "application/json", accept
        assert "Accept" in response.headers["Vary"]


def test_html_page_shows_the_same_data(client: Client) -> None:
    data = client.get("/backend/api/extensions/flask-login").json
    text = client.get("/backend/api/extensions/flask-login", headers=HTML).get_data(as_text=True)
    for field in ("name", "summary", "homepage", "category"):
        assert data[field] in text
