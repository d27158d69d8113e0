"""The gateway's counters (gateway.http.metrics): around stub WSGI apps, then /_gateway/metrics
in-process (this process's counters; under uWSGI they are the master's)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from werkzeug.test import create_environ, run_wsgi_app

from gateway.compose import Gateway
from gateway.http.metrics import BUCKETS, LocalCounters, Metrics, nginx_allow
from tests.support.client import Client
from tests.support.settings import AUTH
from tests.support.wsgi import ignore_start_response

OWNERS = [("", "frontend"), ("/backend", "backend"), ("/_gateway", "gateway")]
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def answering(status: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response(status, [("Content-Type", "text/plain")])
        return [b"x"]

    return app


def failing(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    raise RuntimeError("an inner layer broke")


@pytest.mark.parametrize(
    "path,owner",
    [("/", "frontend"), ("/backendx", "frontend"), ("/backend", "backend"),
     ("/backend/api/x", "backend"), ("/_gateway/health", "gateway"), ("", "frontend"),
     ("*", "frontend")],
)  # fmt: skip
def test_the_owner_of_a_path_is_the_dispatchers_choice(path: str, owner: str) -> None:
    assert Metrics(answering("200 OK"), LocalCounters(), OWNERS).owner(path) == owner


def requests_of(counters: LocalCounters, app: str, method: str, status: str) -> int:
    """Requests counted for (app, method, status class), over every latency bucket."""
    prefix = f"req|{app}|{method}|{status}|"
    return sum(v for k, v in counters.values.items() if k.startswith(prefix))


def test_requests_are_counted_by_app_method_status_class_and_latency() -> None:
    counters = LocalCounters()
    app = Metrics(answering("404 NOT FOUND"), counters, OWNERS)
    for method in ("GET", "GET", "BREW"):
        run_wsgi_app(app, create_environ("/backend/x", method=method), buffered=True)
    assert requests_of(counters, "backend", "GET", "4xx") == 2
    assert requests_of(counters, "backend", "other", "4xx") == 1
    buckets = [int(k.rsplit("|", 1)[1]) for k in counters.values if k.startswith("req|")]
    assert all(0 <= b <= len(BUCKETS) for b in buckets)
    assert counters.values["lat|backend"] > 0


def test_a_failing_layer_counts_as_the_500_the_guard_sends() -> None:
    counters = LocalCounters()
    app = Metrics(failing, counters, OWNERS)
    with pytest.raises(RuntimeError):
        app(create_environ("/"), ignore_start_response)
    assert requests_of(counters, "frontend", "GET", "5xx") == 1


def test_scrapers_become_nginx_allow_lines() -> None:
    assert nginx_allow([]) == ""
    assert nginx_allow(["10.0.0.5", "192.168.1.0/24"]) == "allow 10.0.0.5/32; allow 192.168.1.0/24;"
    with pytest.raises(ValueError):
        nginx_allow(["10.0.0.5; deny all"])


def scrape(client: Client) -> dict[str, float]:
    reply = client.get("/_gateway/metrics", environ_base=LOCAL)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = {}
    for line in reply.get_data(as_text=True).splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_the_metrics_page_counts_requests_cache_events_and_bypasses(
    client: Client, gateway: Gateway
) -> None:
    for _ in range(3):
        client.get("/category/orm")
    client.get("/backend/api/extensions", headers=AUTH)
    client.post("/backend/api/extensions", json={})
    samples = scrape(client)
    assert samples['gateway_requests_total{app="frontend",method="GET",status="2xx"}'] == 3
    assert samples['gateway_requests_total{app="backend",method="POST",status="4xx"}'] == 1
    assert samples['gateway_cache_events_total{app="frontend",event="miss"}'] == 1
    assert samples['gateway_cache_events_total{app="frontend",event="hit"}'] == 2
    assert samples['gateway_cache_events_total{app="frontend",event="store"}'] == 1
    assert samples['gateway_cache_bypasses_total{app="backend",reason="authorization"}'] == 1
    assert samples['gateway_cache_bypasses_total{app="backend",reason="method"}'] == 1
    assert samples['gateway_request_duration_seconds_count{app="frontend"}'] == 3
    assert samples['gateway_request_duration_seconds_bucket{app="frontend",le="+Inf"}'] == 3
    assert samples[f'gateway_build_info{{build="{gateway.apps[""].config["BUILD_ID"]}"}}'] == 1


@pytest.mark.parametrize("address", ["10.1.2.3", "192.168.0.7", "::ffff:127.0.0.1", ""])
def test_only_local_clients_read_the_metrics(client: Client, address: str) -> None:
    reply = client.get("/_gateway/metrics", environ_base={"REMOTE_ADDR": address})
    assert reply.status_code == 404 and reply.json["error"]["status"] == 404


def test_the_text_skips_what_is_not_a_counter_of_ours() -> None:
    from gateway.http.metrics import exposition

    counters = LocalCounters()
    counters.inc("gateway:probe", 0)  # the cache's own probe key
    counters.inc("req|frontend|GET|2xx|3", 2)
    counters.inc("req|nowhere|GET|2xx|3", 5)
    text = exposition(counters, ["frontend"], {})
    assert 'gateway_requests_total{app="frontend",method="GET",status="2xx"} 2' in text
    assert "nowhere" not in text and "probe" not in text
