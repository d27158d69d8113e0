"""/_gateway/metrics on a `make run` stack: counts summed over every worker and kept
across a chain reload, nginx's page-file hits counted without Python, and only local
clients (and the configured scrapers) reading it."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time

from tests.support.http import Reply, request
from tests.support.stack import Runner

# A cookie that names "session" (no app's): nginx passes the request to the app.
THROUGH_PYTHON = {"Cookie": "probe_session=1"}


def scrape(runner: Runner) -> dict[str, float]:
    reply = runner.get("/_gateway/metrics")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for line in reply.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def workers_seen(runner: Runner, requests: int) -> set[int]:
    """Send ``requests`` GETs through Python; the uWSGI workers that answered them."""
    seen = set()
    for _ in range(requests):
        reply = runner.get("/_gateway/health")
        seen.add(reply.json()["cache"]["pid"])
    return seen


def test_every_request_counted_once_over_all_workers_and_a_reload(stack: Runner) -> None:
    key = 'gateway_requests_total{app="frontend",method="GET",status="2xx"}'
    reloads = "gateway_reloads_total"
    before = scrape(stack)
    n = 0
    for _ in range(150):
        assert stack.get("/category/orm", headers=THROUGH_PYTHON).status == 200
        n += 1
    # Replace every worker, as `service uwsgi reload` does, in the middle of the count.
    chained = subprocess.run(
        [sys.executable, "-m", "gateway.chain_reload", str(stack.run_dir), "60"],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert chained.returncode == 0, chained.stderr
    for _ in range(150):
        assert stack.get("/category/orm", headers=THROUGH_PYTHON).status == 200
        n += 1
    assert len(workers_seen(stack, 40)) == 4  # the answers came from every worker
    after = scrape(stack)
    assert after[key] - before.get(key, 0) == n
    assert after[reloads] - before.get(reloads, 0) == 1


def test_nginx_file_hits_are_counted_without_python(stack: Runner) -> None:
    stack.get("/category/forms")  # the file is written
    before = scrape(stack)["gateway_nginx_file_hits_total"]
    for _ in range(25):
        reply = stack.get("/category/forms")
        assert reply.headers["X-Cache"] == "HIT"
    time.sleep(1.5)  # nginx flushes its hit log within a second
    after = scrape(stack)
    assert after["gateway_nginx_file_hits_total"] - before == 25
    assert 'gateway_build_info{build="' in "".join(after)


def from_address(port: int, source: str, path: str) -> Reply:
    """A GET sent from ``source`` (another loopback address than 127.0.0.1)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"Host": "127.0.0.1"})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def test_only_local_clients_read_the_metrics(stack: Runner) -> None:
    assert request(stack.port, "GET", "/_gateway/metrics").status == 200
    # 127.0.0.2 is this machine too, but not an address nginx lets through.
    refused = from_address(stack.port, "127.0.0.2", "/_gateway/metrics")
    assert refused.status == 404 and b'class="site-header"' in refused.body
    assert from_address(stack.port, "127.0.0.2", "/_gateway/health").status == 200
