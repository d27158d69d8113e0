"""The gateway's middlewares driven around stub WSGI apps, without Flask: what each
adds to or takes from an answer, in Werkzeug's shape (``Middleware(app)``)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import pytest

from gateway.cache.generations import Entry, SimplePages
from gateway.cache.middleware import FAILED, ResponseCache, Route
from gateway.http.metrics import LocalCounters, Metrics
from gateway.http.request_id import HEADER, current_request_id
from tests.support.client import Client

PUBLIC = [
    ("Content-Type", "application/json"),
    ("Cache-Control", "public, max-age=0, s-maxage=300"),
    ("Vary", "Accept, Cookie, Accept-Encoding"),
]


class Stub:
    """A WSGI app answering ``body`` with ``headers``; it counts its calls and keeps the
    environ and the request id current while it ran."""

    def __init__(self, headers: list[tuple[str, str]], body: bytes = b'{"a": 1}') -> None:
        self.headers = headers
        self.body = body
        self.calls = 0
        self.seen: list[dict[str, Any]] = []
        self.ids: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls += 1
        self.seen.append(dict(environ))
        self.ids.append(current_request_id.get())
        length = [("Content-Length", str(len(self.body)))]
        start_response("200 OK", [*self.headers, *length])
        return [self.body]


def cache_around(app: Stub, store: Any = None) -> ResponseCache:
    mounts = [Route("", "site", "site_session"), Route("/api", "api", "api_session")]
    return ResponseCache(app, store or SimplePages(f"stub-{id(app)}"), mounts)


# -- RequestId ---------------------------------------------------------------------


@pytest.mark.parametrize("given", [None, "", "bad id\r\n", "short", "x" * 200, "é" * 10])
def test_request_id_replaces_what_is_not_an_id(given: str | None) -> None:
    from gateway.http.request_id import RequestIdMiddleware

    stub = Stub([("Content-Type", "text/plain")])
    given_id = {"HTTP_X_REQUEST_ID": given} if given is not None else {}
    reply = Client(RequestIdMiddleware(stub)).get("/", environ_overrides=given_id)
    sent = reply.headers[HEADER]
    assert sent != given and len(sent) == 32 and int(sent, 16) >= 0
    # The app saw the same id in its environ and as the logs' current id.
    assert stub.seen[0]["HTTP_X_REQUEST_ID"] == sent == stub.ids[0]
    assert current_request_id.get() == "-"  # reset after the request


def test_request_id_keeps_a_well_formed_one_and_ids_never_repeat() -> None:
    from gateway.http.request_id import RequestIdMiddleware

    client = Client(RequestIdMiddleware(Stub([("Content-Type", "text/plain")])))
    given = "0123456789abcdef0123456789abcdef"
    assert client.get("/", headers={"X-Request-ID": given}).headers.getlist(HEADER) == [given]
    fresh = {client.get("/").headers[HEADER] for _ in range(2000)}
    assert len(fresh) == 2000


def test_request_ids_of_threads_never_collide() -> None:
    from gateway.http.request_id import RequestIdMiddleware

    app = RequestIdMiddleware(Stub([("Content-Type", "text/plain")]))
    found: list[str] = []

    def run() -> None:
        client = Client(app)
        found.extend(client.get("/").headers[HEADER] for _ in range(300))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == len(found) == 1200


# -- ResponseCache -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path,namespace",
    [("/", "site"), ("/api", "api"), ("/api/x", "api"), ("/apix", "site"), ("*", "site"),
     ("", "site")],
)  # fmt: skip
def test_the_cache_finds_the_mount_as_the_dispatcher_does(path: str, namespace: str) -> None:
    assert cache_around(Stub(PUBLIC)).route_of(path).namespace == namespace


def test_the_cache_replays_a_public_answer_without_the_app() -> None:
    stub = Stub(PUBLIC)
    client = Client(cache_around(stub))
    first, second = client.get("/api/x?q=1"), client.get("/api/x?q=1")
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert second.data == first.data and stub.calls == 1
    assert client.head("/api/x?q=1").data == b"" and stub.calls == 1
    # Another query, another variant, another mount: another answer.
    client.get("/api/x?q=2")
    client.get("/api/x?q=1", headers={"Accept": "text/html"})
    client.get("/x?q=1")
    assert stub.calls == 4


@pytest.mark.parametrize(
    "headers",
    [
        [("Content-Type", "text/html"), ("Cache-Control", "no-store")],
        [("Content-Type", "text/html"), ("Cache-Control", "public"), ("Set-Cookie", "a=b")],
        [("Content-Type", "text/html"), ("Cache-Control", "public"), ("Vary", "Origin")],
        [("Content-Type", "text/html"), ("Cache-Control", "public, private")],
        [("Content-Type", "text/html")],
    ],
)
def test_the_cache_never_replays_what_the_app_did_not_share(
    headers: list[tuple[str, str]],
) -> None:
    stub = Stub(headers)
    client = Client(cache_around(stub))
    for _ in range(3):
        assert client.get("/page").headers["X-Cache"] == "MISS"
    assert stub.calls == 3


@pytest.mark.parametrize(
    "request_headers",
    [
        {"HTTP_AUTHORIZATION": "Bearer t"},
        {"HTTP_COOKIE": "site_session=x"},
        {"HTTP_COOKIE": "a=1; site_session="},
        {"HTTP_COOKIE": "caf\xe9=1; site_session=\x00"},
    ],
)
def test_a_request_of_a_visitor_never_reads_the_store(request_headers: dict[str, str]) -> None:
    stub = Stub(PUBLIC)
    client = Client(cache_around(stub), use_cookies=False)
    client.get("/page")  # stored for everyone
    reply = client.get("/page", environ_overrides=request_headers)
    assert "X-Cache" not in reply.headers and stub.calls == 2


def test_another_apps_session_cookie_does_not_bypass() -> None:
    stub = Stub(PUBLIC)
    client = Client(cache_around(stub), use_cookies=False)
    client.get("/page")
    reply = client.get("/page", environ_overrides={"HTTP_COOKIE": "api_session=x"})
    assert reply.headers["X-Cache"] == "HIT"


class Broken(SimplePages):
    """A page store whose every call fails while ``down``."""

    down = False

    def generation(self) -> str | None:
        if self.down:
            raise ConnectionError("store down")
        return super().generation()

    def get(self, generation: str, key: str) -> Entry | None:
        if self.down:
            raise ConnectionError("store down")
        return super().get(generation, key)


def test_a_failing_store_is_skipped_then_renewed_when_it_answers() -> None:
    store = Broken("broken-stub")
    stub = Stub(PUBLIC)
    cache = cache_around(stub, store)
    cache.retry_after = 0.0
    client = Client(cache)
    client.get("/page")
    before = store.generation()
    store.down = True
    assert client.get("/page").status_code == 200 and stub.calls == 2  # served uncached
    assert cache.generation() is None and cache.failing
    store.down = False
    assert cache._guarded(store.generation) is not FAILED
    # Recovered: a new generation, as an invalidation may have been lost meanwhile.
    assert store.generation() != before and not cache.failing


# -- Metrics -----------------------------------------------------------------------


def test_metrics_count_each_request_by_owner_and_status_class() -> None:
    counters = LocalCounters()
    app = Metrics(Stub([("Content-Type", "text/plain")]), counters, [("", "site"), ("/api", "api")])
    client = Client(app)
    client.get("/api/x")
    client.get("/apix")
    client.open("/", method="BREW")
    counted = dict(counters.items())
    assert sum(v for k, v in counted.items() if k.startswith("req|api|GET|2xx|")) == 1
    assert sum(v for k, v in counted.items() if k.startswith("req|site|GET|2xx|")) == 1
    assert sum(v for k, v in counted.items() if k.startswith("req|site|other|")) == 1


def test_invented_methods_do_not_grow_the_metrics_memory() -> None:
    counters = LocalCounters()
    app = Metrics(Stub([("Content-Type", "text/plain")]), counters, [("", "site")])
    client = Client(app)
    for number in range(500):
        client.open("/", method=f"BREW{number}")
    assert len(app.keys) <= 3  # "other", 2xx, in one or two latency buckets
    assert {key.split("|")[2] for key, _ in counters.items() if key.startswith("req|")} == {"other"}


# -- HealthApp ---------------------------------------------------------------------


def health_with(**failing: BaseException | None) -> Any:
    from gateway.health import Checks, HealthApp

    def check(part: str) -> Any:
        def run() -> None:
            problem = failing.get(part)
            if problem is not None:
                raise problem

        return run

    checks = Checks(
        apps={"/": ("site", check("site")), "/api": ("api", check("api"))},
        cache=check("cache"),
        database=check("database"),
        database_url="postgresql+psycopg://u:***@db/catalogue",
        hidden="s3cret",
    )
    return HealthApp(checks, timeout=0.5, build_id="b1")


def test_health_is_200_when_every_part_answers() -> None:
    reply = Client(health_with()).get("/health")
    body = reply.get_json()
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    assert body["status"] == "ok" and body["build"] == "b1"
    assert body["apps"] == {
        "/": {"app": "site", "status": "ok"},
        "/api": {"app": "api", "status": "ok"},
    }
    assert body["database"] == {"status": "ok", "url": "postgresql+psycopg://u:***@db/catalogue"}


def test_health_names_what_is_down_and_never_a_password() -> None:
    down = health_with(database=ConnectionError("no route to u:s3cret@db\nmore"))
    body = Client(down).get("/health").get_json()
    assert body["status"] == "down"
    assert body["database"]["status"] == "ConnectionError: no route to u:***@db"
    degraded = Client(health_with(cache=RuntimeError("full"))).get("/health")
    assert degraded.status_code == 503 and degraded.get_json()["status"] == "degraded"


def test_a_frozen_check_is_a_503_within_the_timeout() -> None:
    from gateway.health import Checks, HealthApp

    release = threading.Event()

    def frozen() -> None:
        release.wait(10)

    checks = Checks(
        apps={"/": ("site", lambda: None)},
        cache=lambda: None,
        database=frozen,
        database_url="sqlite:///x",
    )
    try:
        body = Client(HealthApp(checks, timeout=0.2, build_id="b")).get("/health").get_json()
    finally:
        release.set()
    assert body["database"]["status"] == "no answer within 0.2s" and body["status"] == "down"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("POST", "/health", 405), ("GET", "/nope", 404), ("GET", "/metrics", 404)],
)
def test_health_answers_other_requests_in_json(method: str, path: str, status: int) -> None:
    reply = Client(health_with()).open(path, method=method)
    assert reply.status_code == status and reply.get_json()["error"]["status"] == status


def test_metrics_only_for_local_clients() -> None:
    health = health_with()
    health.metrics = lambda: "gateway_requests_total 1\n"
    local = Client(health).get("/metrics", environ_overrides={"REMOTE_ADDR": "127.0.0.1"})
    assert local.status_code == 200 and local.data == b"gateway_requests_total 1\n"
    remote = Client(health).get("/metrics", environ_overrides={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 404
