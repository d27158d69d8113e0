"""The composition: dispatching by prefix, URLs under the mount, sessions, health, ids."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask import url_for

from backend_app import catalogue
from gateway.compose import Gateway, build_gateway
from gateway.factory import create_app
from gateway.mounts import Mount, load_mounts, validate_mounts
from gateway.settings import ConfigError
from tests.support.catalogue import corrupt_catalogue, dispose
from tests.support.client import Client
from tests.support.http import HTML
from tests.support.settings import TOKEN, make_settings

# -- dispatching ---------------------------------------------------------------------


def test_backend_without_slash_redirects(client: Client) -> None:
    for method in ("GET", "HEAD"):
        response = client.open("/backend", method=method)
        assert response.status_code == 308
        assert response.headers["Location"].endswith("/backend/")
    # The API root takes no POST: the backend (not the site) answers, in JSON.
    assert client.post("/backend").json["error"]["status"] in (404, 405)
    followed = client.get("/backend", follow_redirects=True)
    assert followed.status_code == 200 and followed.json["name"] == "Flask extensions API"


def test_prefix_only_on_segment_boundaries(client: Client) -> None:
    response = client.get("/backendx", headers=HTML)
    assert response.status_code == 404 and response.mimetype == "text/html"
    response = client.get("/backendx/api/extensions")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_each_app_serves_its_own_static_files(client: Client) -> None:
    assert client.get("/static/style.css").mimetype == "text/css"
    assert client.get("/backend/static/api.css").mimetype == "text/css"
    assert client.get("/static/api.css").status_code == 404
    assert client.get("/backend/static/style.css").status_code == 404


def test_each_app_has_its_own_templates_and_instance_folder(gateway: Gateway) -> None:
    frontend, backend = gateway.apps[""], gateway.apps["/backend"]
    assert Path(frontend.root_path).name == "frontend_app"
    assert Path(backend.root_path).name == "backend_app"
    assert Path(frontend.instance_path).name == "frontend_app"
    assert Path(backend.instance_path).name == "backend_app"
    assert Path(backend.config["DATABASE"]).parent == Path(backend.instance_path)
    assert frontend.config["DATABASE"] == backend.config["DATABASE"]


# -- URLs under the mount ------------------------------------------------------------


def test_url_for_inside_a_request_carries_the_prefix(gateway: Gateway) -> None:
    backend = gateway.apps["/backend"]
    with backend.test_request_context("/api/extensions", base_url="http://localhost/backend"):
        assert url_for("api.extension", slug="x") == "/backend/api/extensions/x"
        assert url_for("static", filename="api.css").startswith("/backend/static/api.css?v=")
        assert url_for("api.index", _external=True) == "http://localhost/backend/"


def test_url_for_outside_a_request_carries_the_prefix(gateway: Gateway) -> None:
    # Outside a request Flask builds external URLs by default.
    with gateway.apps["/backend"].app_context():
        assert url_for("api.extension", slug="x", _external=False) == "/backend/api/extensions/x"
        static = url_for("static", filename="api.css", _external=False)
        assert static == f"/backend/static/api.css?v={gateway.apps['/backend'].config['BUILD_ID']}"
        assert url_for("api.index") == "http://localhost/backend/"
    with gateway.apps[""].app_context():
        assert url_for("pages.extension", slug="x", _external=False) == "/extensions/x"
        assert url_for("pages.index") == "http://localhost/"


def test_external_urls_use_the_configured_server_name(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, GATEWAY_SERVER_NAME="gw.example.org", GATEWAY_PREFERRED_URL_SCHEME="https"
    )
    app = build_gateway(settings).apps["/backend"]
    with app.app_context():
        assert url_for("api.categories", _external=True) == (
            "https://gw.example.org/backend/api/categories"
        )


def test_redirects_carry_the_prefix(client: Client) -> None:
    response = client.get("/backend/ui/extensions/new", headers=HTML)
    assert response.headers["Location"].startswith("/backend/ui/sign-in?next=/backend/")


def test_server_name_does_not_restrict_requests(tmp_path: Path) -> None:
    client = Client(build_gateway(make_settings(tmp_path, GATEWAY_TRUSTED_HOSTS=None)))
    response = client.get("/backend/healthz", base_url="http://127.0.0.1:8080")
    assert response.status_code == 200


# -- trusted hosts -------------------------------------------------------------------


def test_untrusted_host_is_refused_by_both_apps(client: Client) -> None:
    api = client.get("/backend/api/extensions", base_url="http://evil.example")
    assert api.status_code == 400 and api.json["error"]["status"] == 400
    site = client.get("/", base_url="http://evil.example")
    assert site.status_code == 400 and site.mimetype == "text/html"


# -- sessions ------------------------------------------------------------------------


def test_one_apps_session_never_reads_or_clears_the_others(client: Client) -> None:
    client.post(
        "/stars/flask-login", data={"action": "star"}, headers={"Origin": "http://localhost"}
    )
    site_cookie = client.get_cookie("gateway_site_session")
    assert site_cookie is not None

    page = client.get("/backend/ui/sign-in", headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token
    signed = client.post(
        "/backend/ui/sign-in", data={"token": TOKEN, "csrf_token": token.group(1)}, headers=HTML
    )
    assert signed.status_code == 303
    # The backend set only its own cookie, with its own path.
    set_cookies = signed.headers.getlist("Set-Cookie")
    assert len(set_cookies) == 1 and set_cookies[0].startswith("gateway_api_session=")
    assert "Path=/backend" in set_cookies[0]
    assert client.get_cookie("gateway_site_session").value == site_cookie.value  # type: ignore[union-attr]

    # Signing out clears the backend's session, not the site's stars.
    page = client.get("/backend/", headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token
    out = client.post("/backend/ui/sign-out", data={"csrf_token": token.group(1)}, headers=HTML)
    assert all("gateway_site_session" not in c for c in out.headers.getlist("Set-Cookie"))
    assert "flask-login" in client.get("/").get_data(as_text=True).split("starred")[1][:200]


def test_a_session_signed_by_one_app_is_not_trusted_by_the_other(client: Client) -> None:
    client.post(
        "/stars/flask-login", data={"action": "star"}, headers={"Origin": "http://localhost"}
    )
    site_value = client.get_cookie("gateway_site_session").value  # type: ignore[union-attr]
    # Present the site's cookie under the backend's name: a different secret refuses it.
    client.set_cookie("gateway_api_session", site_value, path="/backend")
    response = client.get("/backend/ui/extensions/new", headers=HTML)
    assert response.status_code == 303  # not signed in


def test_each_app_has_its_own_secret(gateway: Gateway) -> None:
    frontend, backend = gateway.apps[""], gateway.apps["/backend"]
    assert frontend.secret_key and backend.secret_key
    assert frontend.secret_key != backend.secret_key
    assert frontend.config["SESSION_COOKIE_NAME"] != backend.config["SESSION_COOKIE_NAME"]
    assert (frontend.config["SESSION_COOKIE_PATH"], backend.config["SESSION_COOKIE_PATH"]) == (
        "/",
        "/backend",
    )


# -- health --------------------------------------------------------------------------


def test_health_reports_each_app_and_the_cache(client: Client) -> None:
    response = client.get("/_gateway/health")
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "ok"
    assert body["apps"] == {
        "/": {"app": "frontend_app", "status": "ok"},
        "/backend": {"app": "backend_app", "status": "ok"},
    }
    assert body["cache"]["status"] == "ok"
    assert set(body["cache"]["namespaces"]) == {"frontend", "backend", "gateway"}
    assert response.headers["Cache-Control"] == "no-store"


def test_health_is_503_when_an_app_is_down(tmp_path: Path, client: Client) -> None:
    assert isinstance(client.application, Gateway)
    corrupt_catalogue(client.application, tmp_path)
    response = client.get("/_gateway/health")
    assert response.status_code == 503
    assert response.json["status"] == "down"
    assert response.json["apps"]["/backend"]["status"] != "ok"


def test_health_is_503_not_a_hang_when_the_database_is_locked(
    tmp_path: Path, client: Client
) -> None:
    # Another process holds an exclusive lock: every read waits on busy_timeout.
    assert isinstance(client.application, Gateway)
    dispose(client.application)  # the journal mode changes only with no other connection
    locker = sqlite3.connect(tmp_path / "backend_app" / "catalog.sqlite3", isolation_level=None)
    locker.execute("PRAGMA journal_mode = DELETE")
    locker.execute("BEGIN EXCLUSIVE")
    try:
        gateway = client.application
        assert isinstance(gateway, Gateway)
        gateway.health.timeout = 0.3
        response = client.get("/_gateway/health")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert response.status_code == 503
    assert "no answer within 0.3s" in response.json["apps"]["/"]["status"]


def test_health_is_503_degraded_when_the_cache_is_down(tmp_path: Path) -> None:
    # Nothing listens on port 9 of loopback: the cache check fails fast.
    gateway = build_gateway(make_settings(tmp_path, GATEWAY_CACHE_URL="redis://127.0.0.1:9/0"))
    response = Client(gateway).get("/_gateway/health")
    assert response.status_code == 503
    assert response.json["status"] == "degraded"
    assert response.json["cache"]["status"] != "ok"
    assert all(app["status"] == "ok" for app in response.json["apps"].values())


def test_health_answers_only_get(client: Client) -> None:
    response = client.post("/_gateway/health")
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD"
    assert client.get("/_gateway/nope").status_code == 404


# -- request ids ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/nope", "/backend/", "/backend/nope", "/backend", "/_gateway/health"]
)
def test_every_response_has_a_request_id(client: Client, path: str) -> None:
    response = client.get(path)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert response.headers.getlist("X-Request-ID") == [response.headers["X-Request-ID"]]


def test_well_formed_request_id_is_reused(client: Client) -> None:
    for value in ("0123456789abcdef0123456789abcdef", "3f2c1f9e-6a8b-4c7d-9e0f-1a2b3c4d5e6f"):
        assert client.get("/", headers={"X-Request-ID": value}).headers["X-Request-ID"] == value


@pytest.mark.parametrize("value", ["short", "has space in it", "x" * 200, "<script>", ""])
def test_malformed_request_id_is_replaced(client: Client, value: str) -> None:
    returned = client.get("/", headers={"X-Request-ID": value}).headers["X-Request-ID"]
    assert returned != value and re.fullmatch(r"[0-9a-f]{32}", returned)


def test_every_log_line_of_a_request_carries_its_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = build_gateway(make_settings(tmp_path, GATEWAY_PROPAGATE_EXCEPTIONS="false"))
    client = Client(gateway)
    corrupt_catalogue(gateway, tmp_path)
    caplog.set_level(logging.INFO)
    request_id = "feedfacefeedfacefeedfacefeedface"
    client.get("/backend/api/extensions", headers={"X-Request-ID": request_id})
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors, "the 500 was not logged"
    assert {r.request_id for r in errors} == {request_id}  # type: ignore[attr-defined]


# -- the mount table -----------------------------------------------------------------


def test_mount_table_comes_from_configuration(tmp_path: Path) -> None:
    rows = [
        {"prefix": "", "app": "frontend_app", "namespace": "site"},
        {"prefix": "/api/v2", "app": "backend_app", "namespace": "api"},
    ]
    settings = make_settings(tmp_path, GATEWAY_MOUNTS=json.dumps(rows))
    client = Client(build_gateway(settings))
    assert client.get("/api/v2/healthz").json == {"status": "ok"}
    item = client.get("/api/v2/api/extensions").json["items"][0]
    assert item["url"].startswith("/api/v2/api/extensions/")
    assert 'href="/api/v2/"' in client.get("/").get_data(as_text=True)
    assert client.get("/backend/healthz").status_code == 404


@pytest.mark.parametrize(
    ("mounts", "problem"),
    [
        ((Mount("/", "frontend_app", "f"),), "exactly one app"),
        ((Mount("", "frontend_app", "f"), Mount("/backend/", "backend_app", "b")), "end with one"),
        ((Mount("", "frontend_app", "f"), Mount("/_gateway", "backend_app", "b")), "reserved"),
        ((Mount("", "frontend_app", "f"), Mount("/b", "backend_app", "f")), "namespace"),
    ],
)
def test_bad_mount_tables_are_refused(mounts: tuple[Mount, ...], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        validate_mounts(mounts)


def test_unparsable_mounts_are_refused() -> None:
    with pytest.raises(ConfigError, match="GATEWAY_MOUNTS"):
        load_mounts({"GATEWAY_MOUNTS": '[{"prefix": ""}]'})


def test_create_app_alone_knows_its_mount(settings: dict[str, Any]) -> None:
    create_app("backend_app", settings)  # creates the catalogue
    frontend = create_app("frontend_app", settings)
    with frontend.app_context():
        assert len(catalogue.list_extensions(per_page=100)[0]) >= 40
    backend = create_app("backend_app", settings)
    assert backend.config["APPLICATION_ROOT"] == "/backend"
    with backend.test_client() as client:
        answer: Any = client.get("/api/extensions/flask-login").json
        assert answer["url"] == "/backend/api/extensions/flask-login"


# -- build id ------------------------------------------------------------------------


def test_health_reports_the_build_id_of_the_code(client: Client, tmp_path: Path) -> None:
    from gateway.build_id import source_digest

    assert client.get("/_gateway/health").json["build"] == source_digest()
    overridden = build_gateway(make_settings(tmp_path, GATEWAY_BUILD_ID="release-42"))
    assert Client(overridden).get("/_gateway/health").json["build"] == "release-42"


def test_build_id_changes_with_the_code(tmp_path: Path) -> None:
    from gateway.build_id import PACKAGES, source_digest

    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    before = source_digest(tmp_path)
    (tmp_path / "gateway" / "__init__.py").write_text("# changed\n")
    assert source_digest(tmp_path) != before
