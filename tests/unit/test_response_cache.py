"""The shared response cache: keys, what is never shared, freshness, a failing store."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.compose import Gateway, build_gateway
from tests.support.catalogue import extension
from tests.support.client import Client
from tests.support.http import HTML
from tests.support.settings import AUTH, make_settings


def test_second_read_is_a_hit_with_the_same_answer(client: Client) -> None:
    first = client.get("/backend/api/extensions/flask-login")
    second = client.get("/backend/api/extensions/flask-login")
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert first.data == second.data and second.mimetype == "application/json"
    assert second.headers["Vary"] == first.headers["Vary"]
    # Each answer keeps its own request id.
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_site_root_and_api_root_never_share_a_key(client: Client) -> None:
    for _ in range(2):
        site, api = client.get("/"), client.get("/backend/")
        assert site.mimetype == "text/html" and api.mimetype == "application/json"
    assert (site.headers["X-Cache"], api.headers["X-Cache"]) == ("HIT", "HIT")


def test_html_and_json_variants_stay_apart(client: Client) -> None:
    for _ in range(2):
        page = client.get("/backend/api/extensions", headers=HTML)
        data = client.get("/backend/api/extensions")
    assert page.mimetype == "text/html" and page.headers["X-Cache"] == "HIT"
    assert data.mimetype == "application/json" and data.headers["X-Cache"] == "HIT"


def test_query_strings_are_part_of_the_key(client: Client) -> None:
    client.get("/backend/api/extensions?page=1")
    other = client.get("/backend/api/extensions?page=2")
    assert other.headers["X-Cache"] == "MISS" and other.json["page"] == 2


def test_head_is_served_from_the_get_entry(client: Client) -> None:
    client.get("/category/orm")
    head = client.head("/category/orm")
    assert head.headers["X-Cache"] == "HIT" and head.data == b""


def test_post_is_never_answered_from_the_cache(client: Client) -> None:
    client.get("/backend/api/extensions")
    client.get("/backend/api/extensions")
    response = client.post("/backend/api/extensions", json=extension(), headers=AUTH)
    assert response.status_code == 201 and "X-Cache" not in response.headers


def test_answers_that_set_cookies_are_never_replayed(client: Client) -> None:
    # The sign-in form puts a CSRF token in a new session: a cookie for this browser only.
    first = Client(client.application).get("/backend/ui/sign-in", headers=HTML)
    second = Client(client.application).get("/backend/ui/sign-in", headers=HTML)
    assert first.headers["X-Cache"] == second.headers["X-Cache"] == "MISS"
    assert first.headers["Set-Cookie"] != second.headers["Set-Cookie"]


def test_requests_with_a_session_or_authorization_bypass(client: Client) -> None:
    client.get("/")
    client.get("/")
    client.post(
        "/stars/flask-login", data={"action": "star"}, headers={"Origin": "http://localhost"}
    )
    starred = client.get("/")
    assert "X-Cache" not in starred.headers
    assert 'href="/extensions/flask-login">flask-login' in starred.get_data(as_text=True)
    authorized = client.get("/backend/api/extensions", headers=AUTH)
    assert "X-Cache" not in authorized.headers


def test_other_apps_cookies_do_not_bypass(client: Client) -> None:
    client.set_cookie("gateway_api_session", "x", path="/")
    client.get("/category/orm")
    assert client.get("/category/orm").headers["X-Cache"] == "HIT"


def test_errors_and_uncacheable_answers_are_not_stored(client: Client) -> None:
    for _ in range(2):
        missing = client.get("/backend/api/extensions/nope")
        health = client.get("/_gateway/health")
        probe = client.get("/backend/healthz")
    assert missing.status_code == 404 and missing.headers["X-Cache"] == "MISS"
    assert "X-Cache" not in health.headers
    assert probe.headers["X-Cache"] == "MISS"  # the liveness probe says no-store


def test_an_unshareable_url_skips_the_store_until_its_answer_can_be_shared(
    gateway: Gateway, client: Client
) -> None:
    counters = gateway.cache.counters["backend"]  # type: ignore[union-attr]
    url = "/backend/api/extensions/flask-example"
    assert client.get(url).status_code == 404
    misses = counters.misses
    skipped = client.get(url)  # the app answered 404 last time: no store read at all
    assert skipped.status_code == 404 and skipped.headers["X-Cache"] == "MISS"
    assert counters.misses == misses
    # Other Accept headers and other URLs are asked about on their own.
    client.get(url, headers=HTML)
    assert counters.misses == misses + 1
    assert client.post("/backend/api/extensions", json=extension(), headers=AUTH).status_code == 201
    fresh = client.get(url)  # shareable now: noticed, not stored (no generation was read)
    assert fresh.status_code == 200 and fresh.headers["X-Cache"] == "MISS"
    assert [client.get(url).headers["X-Cache"] for _ in range(2)] == ["MISS", "HIT"]


def test_unshareable_urls_are_forgotten_past_a_bound(
    gateway: Gateway, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gateway.cache.middleware.MAX_UNSHARED", 3)
    for n in range(10):
        client.get(f"/backend/api/extensions/nope-{n}")
    assert 1 <= len(gateway.cache.unshared) <= 3  # type: ignore[union-attr]


def test_a_write_is_seen_by_the_next_read_of_every_page(client: Client) -> None:
    pages = ["/", "/category/testing", "/search?q=example", "/backend/api/extensions?q=example"]
    for path in pages * 2:
        client.get(path)
    assert all(client.get(path).headers["X-Cache"] == "HIT" for path in pages)
    assert client.post("/backend/api/extensions", json=extension(), headers=AUTH).status_code == 201
    for path in pages:
        fresh = client.get(path)
        assert fresh.headers["X-Cache"] == "MISS", path
        assert "flask-example" in fresh.get_data(as_text=True).lower(), path
    client.delete("/backend/api/extensions/flask-example", headers=AUTH)
    assert "flask-example" not in client.get("/category/testing").get_data(as_text=True).lower()


def test_a_refused_write_keeps_the_cache(client: Client) -> None:
    client.get("/category/testing")
    client.post("/backend/api/extensions", json=extension("flask-login"), headers=AUTH)  # 409
    assert client.get("/category/testing").headers["X-Cache"] == "HIT"


def test_counters(client: Client) -> None:
    client.get("/")
    client.get("/")
    client.get("/backend/")
    stats = client.get("/_gateway/health").json["cache"]["namespaces"]
    assert stats["frontend"]["hits"] == 1 and stats["frontend"]["misses"] == 1
    assert stats["frontend"]["sets"] == 1 and stats["backend"]["misses"] == 1


def test_a_dead_store_serves_uncached_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on loopback port 9: every store call fails at once.
    gateway = build_gateway(make_settings(tmp_path, GATEWAY_CACHE_URL="redis://127.0.0.1:9/0"))
    client = Client(gateway)
    caplog.set_level(logging.ERROR, logger="gateway.cache.middleware")
    for _ in range(20):
        response = client.get("/category/orm")
        assert response.status_code == 200 and "X-Cache" not in response.headers
    assert len([r for r in caplog.records if "cache store failed" in r.getMessage()]) == 1
    health = client.get("/_gateway/health")
    assert health.status_code == 503 and health.json["status"] == "degraded"
    assert health.json["cache"]["namespaces"]["frontend"]["errors"] >= 1
    write = client.post("/backend/api/extensions", json=extension(), headers=AUTH)
    assert write.status_code == 201


def test_the_cache_can_be_switched_off(tmp_path: Path) -> None:
    client = Client(build_gateway(make_settings(tmp_path, GATEWAY_RESPONSE_CACHE="false")))
    client.get("/")
    assert "X-Cache" not in client.get("/").headers


def test_pages_with_the_toolbar_are_never_stored(tmp_path: Path) -> None:
    client = Client(build_gateway(make_settings(tmp_path, GATEWAY_PROFILE="development")))
    local = {"REMOTE_ADDR": "127.0.0.1"}
    for path in ("/", "/backend/api/extensions"):
        for _ in range(2):
            page = client.get(path, headers=HTML, environ_base=local)
        assert 'id="flDebug"' in page.get_data(as_text=True)
        assert "X-Cache" not in page.headers
    # Nor is anything else of that app: a JSON client after a toolbar page gets a fresh answer.
    assert "X-Cache" not in client.get("/backend/api/extensions", environ_base=local).headers


def test_an_unreadable_eviction_count_is_not_a_store_failure(
    client: Client, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uWSGI's stats hold the bytes of requests in flight; reading them once raised on a
    # hostile header, and the whole store was skipped for everyone.
    cache = gateway.cache
    assert cache is not None

    def unreadable() -> int:
        raise UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte")

    monkeypatch.setattr(cache.pages, "evictions", unreadable)
    health = client.get("/_gateway/health")
    assert health.json["cache"]["evictions"] is None and health.json["cache"]["store"] == "in use"
    client.get("/category/orm")
    assert client.get("/category/orm").headers["X-Cache"] == "HIT"


def test_each_build_serves_and_stores_only_its_own_answers(tmp_path: Path) -> None:
    # Old and new workers overlap during a chain reload: one store, two builds.
    shared = {"GATEWAY_CACHE_URL": "simple://two-builds"}
    old = Client(build_gateway(make_settings(tmp_path, GATEWAY_BUILD_ID="old-build", **shared)))
    new = Client(build_gateway(make_settings(tmp_path, GATEWAY_BUILD_ID="new-build", **shared)))
    for _ in range(2):
        assert old.get("/category/orm").headers["X-Cache"] in ("MISS", "HIT")
    assert old.get("/category/orm").headers["X-Cache"] == "HIT"
    first_new = new.get("/category/orm")
    assert first_new.headers["X-Cache"] == "MISS"  # not the old build's page
    assert new.get("/category/orm").headers["X-Cache"] == "HIT"
    assert old.get("/category/orm").headers["X-Cache"] == "HIT"  # its own, still
