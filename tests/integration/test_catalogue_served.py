"""Hostile input to the catalogue through nginx and uWSGI, on SQLite and on PostgreSQL:
NUL bytes, 10 kB fields, odd Unicode, SQL metacharacters in every field and query, huge
and odd numbers in page, per_page and after. Each is a 4xx or an answer, never a 5xx,
and the catalogue is unchanged by what was refused."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.support.http import HTML
from tests.support.stack import Runner

VALUES = [
    "nul\x00inside",
    "x" * 10_000,
    "Ω≈ç√∫ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u202eright-to-left\u202c \u200b",
    "'; DROP TABLE extensions; --",
    'a" OR "1"="1',
    "%_\\*[]^$ NEAR(a b) login*",
]
QUERIES = [
    "page=0",
    "page=99999999999999999999",
    "page=%EF%BC%92",
    "per_page=100000",
    "per_page=-5",
    "after=%00",
    "after=" + "A" * 2000,
    "after=WyJcdTAwMDAiLCJ4Il0",
    "category=%00",
    "category=%27%20OR%201%3D1--",
    "q=%25%25%25",
    "q=%22%22%22",
    "q=" + "%F0%9F%A6%84" * 30,
]


def test_hostile_queries_are_never_a_5xx(served: Runner) -> None:
    for query in QUERIES:
        for path in ("/backend/api/extensions", "/search", "/category/orm"):
            for headers in ({}, HTML):
                reply = served.get(f"{path}?{query}", headers=headers)
                assert reply.status < 500, (path, query, reply.status)
    for value in VALUES:
        encoded = quote(value[:120], safe="")
        for path in (f"/search?q={encoded}", f"/backend/api/extensions?q={encoded}"):
            assert served.get(path).status in (200, 400), path
        for path in (f"/extensions/{encoded}", f"/backend/api/extensions/{encoded}"):
            # nginx itself refuses a NUL in a path (400); the app finds no such slug.
            assert served.get(path).status in (400, 404), path


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_hostile_fields_are_refused_or_stored_as_given(served: Runner, value: str) -> None:
    target = {
        "slug": "served-hostile-target",
        "name": "Target",
        "category": "testing",
        "summary": "Patched with hostile values.",
        "homepage": "https://example.org/",
    }
    assert served.write("POST", "/backend/api/extensions", json.dumps(target)).status == 201
    before = served.get("/backend/api/extensions").json()["total"]
    for field in ("slug", "name", "category", "summary", "homepage"):
        body = {
            "slug": f"served-hostile-{field}",
            "name": "Served-Hostile",
            "category": "testing",
            "summary": "Sent through nginx.",
            "homepage": "https://example.org/",
            field: value,
        }
        reply = served.write("POST", "/backend/api/extensions", json.dumps(body))
        assert reply.status in (201, 413, 422), (field, reply.status)
        if reply.status == 201:
            slug = body["slug"]
            assert served.get(f"/backend/api/extensions/{slug}").json()[field] == value.strip()
            assert served.write("DELETE", f"/backend/api/extensions/{slug}").status == 204
        patched = served.write(
            "PATCH", "/backend/api/extensions/served-hostile-target", json.dumps({field: value})
        )
        assert patched.status in (200, 413, 422), (field, patched.status)
        if patched.status == 200 and field == "slug":  # a valid new slug: move it back
            served.write(
                "PATCH",
                f"/backend/api/extensions/{value.strip()}",
                json.dumps({"slug": "served-hostile-target"}),
            )
    assert served.get("/backend/api/extensions").json()["total"] == before
    assert served.write("DELETE", "/backend/api/extensions/served-hostile-target").status == 204
