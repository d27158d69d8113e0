"""The browsable API's HTML forms: sign-in with the token, CSRF, create, edit, delete."""

from __future__ import annotations

import re

import pytest

from tests.support.catalogue import extension
from tests.support.client import Client
from tests.support.http import HTML
from tests.support.settings import TOKEN


@pytest.fixture
def database_url(any_database: str | None) -> str | None:
    """Every test of this module that uses the ``settings`` fixture runs on both engines."""
    return any_database


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: Client, path: str) -> str:
    """The CSRF token of the form on ``path``."""
    page = client.get(path, headers=HTML)
    assert page.status_code == 200, page.data
    found = CSRF.search(page.get_data(as_text=True))
    assert found, "the form carries no CSRF token"
    return found.group(1)


def sign_in(client: Client) -> None:
    token = csrf_token(client, "/backend/ui/sign-in")
    response = client.post(
        "/backend/ui/sign-in", data={"token": TOKEN, "csrf_token": token}, headers=HTML
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/backend/"


def test_sign_in_sets_the_backend_cookie_only_under_backend(client: Client) -> None:
    sign_in(client)
    cookie = client.get_cookie("gateway_api_session", path="/backend")
    assert cookie is not None and cookie.path == "/backend" and cookie.http_only
    assert client.get_cookie("gateway_site_session") is None
    assert "Sign out" in client.get("/backend/", headers=HTML).get_data(as_text=True)


def test_wrong_token_is_refused(client: Client) -> None:
    token = csrf_token(client, "/backend/ui/sign-in")
    response = client.post(
        "/backend/ui/sign-in", data={"token": "wrong", "csrf_token": token}, headers=HTML
    )
    assert response.status_code == 401
    assert "not valid" in response.get_data(as_text=True)
    assert client.get("/backend/ui/extensions/new", headers=HTML).status_code == 303


def test_forms_without_csrf_token_are_refused(client: Client) -> None:
    response = client.post("/backend/ui/sign-in", data={"token": TOKEN}, headers=HTML)
    assert response.status_code == 400 and response.json["error"]["status"] == 400
    sign_in(client)
    response = client.post("/backend/ui/extensions/new", data=extension(), headers=HTML)
    assert response.status_code == 400
    assert client.get("/backend/api/extensions/flask-example").status_code == 404
    response = client.post("/backend/ui/extensions/flask-login/delete", headers=HTML)
    assert response.status_code == 400
    assert client.get("/backend/api/extensions/flask-login").status_code == 200


def test_signed_out_browser_is_sent_to_sign_in(client: Client) -> None:
    response = client.get("/backend/ui/extensions/new", headers=HTML)
    assert response.status_code == 303
    assert response.headers["Location"] == ("/backend/ui/sign-in?next=/backend/ui/extensions/new")


def test_create_edit_delete_through_forms(client: Client) -> None:
    sign_in(client)
    token = csrf_token(client, "/backend/ui/extensions/new")
    created = client.post(
        "/backend/ui/extensions/new", data={**extension(), "csrf_token": token}, headers=HTML
    )
    assert created.status_code == 303
    assert created.headers["Location"] == "/backend/api/extensions/flask-example"
    assert client.get("/backend/api/extensions/flask-example").json["name"] == "Flask-Example"

    token = csrf_token(client, "/backend/ui/extensions/flask-example/edit")
    edited = client.post(
        "/backend/ui/extensions/flask-example/edit",
        data={**extension(name="Flask-Edited"), "csrf_token": token},
        headers=HTML,
    )
    assert edited.status_code == 303
    assert "Flask-Edited" in client.get("/extensions/flask-example").get_data(as_text=True)

    token = csrf_token(client, "/backend/api/extensions/flask-example")
    deleted = client.post(
        "/backend/ui/extensions/flask-example/delete", data={"csrf_token": token}, headers=HTML
    )
    assert deleted.status_code == 303
    assert client.get("/backend/api/extensions/flask-example").status_code == 404


def test_invalid_form_rerenders_with_reasons_and_writes_nothing(client: Client) -> None:
    sign_in(client)
    token = csrf_token(client, "/backend/ui/extensions/new")
    bad = {**extension(), "homepage": "not a url", "csrf_token": token}
    response = client.post("/backend/ui/extensions/new", data=bad, headers=HTML)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in text and "must be an http(s) URL" in text
    assert client.get("/backend/api/extensions/flask-example").status_code == 404
    duplicate = {**extension("flask-login"), "csrf_token": token}
    response = client.post("/backend/ui/extensions/new", data=duplicate, headers=HTML)
    assert response.status_code == 409
    assert client.get("/backend/api/extensions/flask-login").json["name"] == "Flask-Login"


def test_sign_out_forgets_the_browser(client: Client) -> None:
    sign_in(client)
    token = csrf_token(client, "/backend/")
    response = client.post("/backend/ui/sign-out", data={"csrf_token": token}, headers=HTML)
    assert response.status_code == 303
    assert client.get("/backend/ui/extensions/new", headers=HTML).status_code == 303


def test_head_of_the_sign_in_form_is_its_get(client: Client) -> None:
    head = client.head("/backend/ui/sign-in", headers=HTML)
    assert head.status_code == 200 and head.data == b""
