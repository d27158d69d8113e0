"""The shared input parsers, alone and behind the routes that use them.

Every arbitrary input gives a clean value or a 4xx in the app's format, never a 500.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import BadRequest

from gateway.compose import Gateway, build_gateway
from gateway.http.inputs import MAX_JSON_DEPTH, json_object, positive_int, safe_redirect
from gateway.http.request_id import WELL_FORMED, ensure_request_id
from tests.support.catalogue import extension
from tests.support.client import Client
from tests.support.settings import AUTH, make_settings

# -- bounded positive integers ---------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("²", id="superscript-two"),
        pytest.param("١", id="arabic-indic-one"),
        pytest.param("１", id="fullwidth-one"),
        pytest.param("+1", id="plus"),
        pytest.param("-1", id="minus"),
        pytest.param(" 1", id="space"),
        pytest.param("1_000", id="underscore"),
        pytest.param("0", id="zero"),
        pytest.param("1e3", id="exponent"),
        pytest.param("9" * 19, id="past-sqlite"),
        pytest.param("9223372036854775808", id="two-to-the-63"),
        pytest.param("101", id="over-maximum"),
    ],
)
def test_positive_int_refuses(raw: str) -> None:
    with pytest.raises(BadRequest):
        positive_int(raw, name="page", default=1, maximum=100)


@pytest.mark.parametrize(("raw", "expected"), [(None, 7), ("", 7), ("1", 1), ("0100", 100)])
def test_positive_int_accepts(raw: str | None, expected: int) -> None:
    assert positive_int(raw, name="page", default=7, maximum=100) == expected


@given(st.text(max_size=30))
def test_positive_int_is_a_number_in_range_or_a_400(raw: str) -> None:
    try:
        value = positive_int(raw, name="n", default=1, maximum=10**6)
    except BadRequest:
        return
    assert 1 <= value <= 10**6 and (raw == "" or raw.isascii())


# -- redirect targets ------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "\t//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "/ok\r\nSet-Cookie: a=b",
        "/ok\x00",
        "/ok\x7f",
        "/backendx/",
        "",
    ],
)
def test_safe_redirect_refuses_what_a_browser_reads_as_elsewhere(target: str) -> None:
    assert safe_redirect(target, root="/backend/", default="/backend/") == "/backend/"
    if not target.startswith("/backend"):
        assert safe_redirect(target, root="/", default="/") in ("/", target)


@pytest.mark.parametrize("target", ["/", "/extensions/flask-login", "/search?q=a%2F%2Fb"])
def test_safe_redirect_keeps_paths_of_the_site(target: str) -> None:
    assert safe_redirect(target, root="/", default="/x") == target


@given(st.text(max_size=40) | st.text(max_size=40).map(lambda text: "/" + text))
def test_a_kept_redirect_stays_on_this_site_as_a_browser_reads_it(target: str) -> None:
    kept = safe_redirect(target, root="/", default="/default")
    # How a browser reads it: tabs and newlines dropped, backslashes as slashes.
    read = kept.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    parts = urlsplit("http://site.example" + read if read.startswith("/") else read)
    assert parts.netloc == "site.example" and read.startswith("/") and not read.startswith("//")


# -- JSON bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": -Infinity}',
        b'{"a": 1e999}',
        b'{"a": ' + b"1" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": ' + b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1) + b"}",
        b'{"a": "\xff"}',
        b"\xff\xfe",
        b"[]",
        b'"text"',
        b"",
        b"{",
    ],
)
def test_json_object_refuses(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        json_object(raw)


def test_json_object_takes_an_ordinary_object() -> None:
    assert json_object(b'{"a": [1, 2.5, {"b": null}]}') == {"a": [1, 2.5, {"b": None}]}


@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_json_object_is_an_object_or_a_400(raw: bytes) -> None:
    try:
        assert isinstance(json_object(raw), dict)
    except BadRequest:
        pass


# -- the routes, in-process, with arbitrary text -----------------------------------------


@pytest.fixture(scope="module")
def shared_client(tmp_path_factory: pytest.TempPathFactory) -> Client:
    gateway: Gateway = build_gateway(make_settings(tmp_path_factory.mktemp("inputs")))
    return Client(gateway)


ARBITRARY = st.text(max_size=40)


@settings(max_examples=150, deadline=None)
@given(page=ARBITRARY, per_page=ARBITRARY)
def test_page_numbers_never_make_a_500(shared_client: Client, page: str, per_page: str) -> None:
    site = shared_client.get("/search", query_string={"q": "flask", "page": page})
    api = shared_client.get(
        "/backend/api/extensions", query_string={"page": page, "per_page": per_page}
    )
    assert site.status_code in (200, 400, 404) and site.mimetype == "text/html"
    assert api.status_code in (200, 400) and api.mimetype == "application/json"


@settings(max_examples=150, deadline=None)
@given(target=ARBITRARY)
def test_star_form_next_never_leaves_the_site(shared_client: Client, target: str) -> None:
    visitor = Client(shared_client.application)  # a new visitor: no session, no CSRF token
    reply = visitor.post(
        "/stars/flask-login",
        data={"action": "star", "next": target},
        headers={"Origin": "http://localhost"},
    )
    assert reply.status_code == 303
    location = reply.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_api_bodies_never_make_a_500(shared_client: Client, body: bytes) -> None:
    reply = shared_client.post(
        "/backend/api/extensions",
        data=body,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert 400 <= reply.status_code < 500 and reply.json["error"]["status"] == reply.status_code


def test_deep_json_with_the_token_is_a_400(shared_client: Client) -> None:
    body = b'{"slug": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    reply = shared_client.post(
        "/backend/api/extensions", data=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert reply.status_code == 400 and "nested deeper" in reply.json["error"]["message"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/search?q=flask&page=" + "9" * 30, 400),
        ("/search?q=flask&page=" + quote("²"), 400),
        ("/backend/api/extensions?page=9223372036854775808", 400),
        ("/backend/api/extensions?per_page=" + quote("١"), 400),
        ("/backend/api/extensions?page=99999", 200),
    ],
)
def test_odd_numbers_are_400s_in_each_apps_format(
    shared_client: Client, path: str, status: int
) -> None:
    reply = shared_client.get(path)
    assert reply.status_code == status
    expected = "application/json" if path.startswith("/backend") else "text/html"
    assert reply.mimetype == expected


def test_a_valid_create_still_works(shared_client: Client) -> None:
    body: dict[str, Any] = extension("flask-inputs")
    reply = shared_client.post(
        "/backend/api/extensions",
        data=json.dumps(body),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert reply.status_code == 201


# -- request ids -----------------------------------------------------------------------


@given(st.text(max_size=140))
def test_a_request_id_is_kept_only_when_well_formed(value: str) -> None:
    result = ensure_request_id(value)
    assert WELL_FORMED.fullmatch(result)
    assert (result == value) == bool(WELL_FORMED.fullmatch(value))
