"""PostgreSQL failing under a served stack (`make run` on GATEWAY_DATABASE_URL): stopped
under load, and restarted in the middle of writes. The server is this module's own
(tests/support/postgres.py), stopped and started again by its PID.

What must hold: the API answers JSON 503 with Retry-After and the site its 503 page, at
once (no request waits for uWSGI's harakiri), cached pages are still served,
`/_gateway/health` names the database as down; once the server is back the same
workers serve again without a restart, and every write that answered 2xx is there.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.http import HTML, Reply, request
from tests.support.postgres import Postgres
from tests.support.stack import Runner, children, start_runner, stop_runner

# Requests that must reach the database: a session cookie or Authorization bypasses
# the shared cache.
SITE_UNCACHED = {**HTML, "Cookie": "gateway_site_session=x"}


@dataclass
class Stack:
    runner: Runner
    postgres: Postgres

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.runner.token}", "Content-Type": "application/json"}

    def create(self, slug: str) -> Reply:
        body = {
            "slug": slug,
            "name": f"Name of {slug}",
            "category": "testing",
            "summary": f"Summary of {slug}.",
            "homepage": f"https://example.org/{slug}",
        }
        return request(
            self.runner.port,
            "POST",
            "/backend/api/extensions",
            headers=self.auth,
            body=json.dumps(body),
            timeout=30,
        )

    def workers(self) -> list[int]:
        return sorted(children(self.runner.pids()["uwsgi"]))


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    base = Path(tempfile.mkdtemp(prefix="gateway-faults-"))
    base.chmod(0o755)
    postgres = Postgres.start(base / "pg")
    url = postgres.create_database("faults")
    runner = start_runner(base / "data", GATEWAY_DATABASE_URL=url, GATEWAY_PROCESSES="2")
    try:
        yield Stack(runner, postgres)
    finally:
        stop_runner(runner)
        postgres.stop()
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class Load:
    """Threads reading and writing until stopped; every answer recorded."""

    stack: Stack
    prefix: str
    answers: list[tuple[str, int, float]] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)
    # Set: writers wait (a write renews the cache, so a page cached now stays cached).
    paused: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def _timed(self, kind: str, send: Callable[..., Reply], *args: object) -> Reply:
        started = time.monotonic()
        reply = send(*args)
        self.answers.append((kind, reply.status, time.monotonic() - started))
        return reply

    def _reader(self) -> None:
        port = self.stack.runner.port
        while not self.stopping.is_set():
            self._timed(
                "api",
                lambda: request(port, "GET", "/backend/api/extensions", headers=self.stack.auth),
            )
            self._timed(
                "site", lambda: request(port, "GET", "/category/orm", headers=SITE_UNCACHED)
            )
            self._timed("cached", lambda: request(port, "GET", "/", headers=HTML))

    def _writer(self, number: int) -> None:
        n = 0
        while not self.stopping.is_set():
            if self.paused.is_set():
                time.sleep(0.05)
                continue
            slug = f"{self.prefix}-{number}-{n}"
            self.created[slug] = self._timed("write", self.stack.create, slug).status
            n += 1

    def start(self, readers: int = 2, writers: int = 2) -> None:
        self.threads = [threading.Thread(target=self._reader) for _ in range(readers)]
        self.threads += [threading.Thread(target=self._writer, args=(n,)) for n in range(writers)]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)

    def check_after_recovery(self, cached: set[int]) -> None:
        """Only 2xx and 503s, none slow; every acknowledged write complete and present.
        ``cached``: what `/` may answer (a 503 only if writes kept renewing the cache)."""
        statuses = {(kind, status) for kind, status, _ in self.answers}
        allowed = {"api": {200, 503}, "site": {200, 503}, "cached": cached, "write": {201, 503}}
        assert all(status in allowed[kind] for kind, status in statuses), statuses
        assert max(seconds for _, _, seconds in self.answers) < 10
        acknowledged = [slug for slug, status in self.created.items() if status == 201]
        assert acknowledged and len(acknowledged) < len(self.created)  # some failed
        for slug in self.created:
            stored = self.stack.runner.get(f"/backend/api/extensions/{slug}")
            if slug in acknowledged:
                assert stored.status == 200, slug
            if stored.status == 200:  # all of it or nothing: never half a row
                row = stored.json()
                assert (row["name"], row["summary"]) == (f"Name of {slug}", f"Summary of {slug}.")


def wait_healthy(stack: Stack, seconds: float = 30) -> float:
    started = time.monotonic()
    while stack.runner.get("/_gateway/health").status != 200:
        assert time.monotonic() - started < seconds, "the gateway did not recover"
        time.sleep(0.2)
    return time.monotonic() - started


def test_postgresql_stopped_under_load(stack: Stack) -> None:
    runner = stack.runner
    workers = stack.workers()
    load = Load(stack, "stopped")
    load.start()
    time.sleep(1)
    load.paused.set()
    time.sleep(0.5)  # writes in flight end; the next ones wait for the outage
    for _ in range(20):  # the home page is in the shared cache
        if runner.get("/", headers=HTML).headers["X-Cache"] == "HIT":
            break
        time.sleep(0.1)
    assert runner.get("/", headers=HTML).headers["X-Cache"] == "HIT"
    stack.postgres.stop()
    load.paused.clear()
    try:
        time.sleep(1)
        started = time.monotonic()
        api = runner.get("/backend/api/extensions", headers=stack.auth)
        site = runner.get("/category/orm", headers=SITE_UNCACHED)
        write = stack.create("written-while-down")
        health = runner.get("/_gateway/health")
        cached = runner.get("/", headers=HTML)
        took = time.monotonic() - started
    finally:
        stack.postgres.resume()
    assert api.status == 503 and api.json()["error"]["status"] == 503
    assert api.headers["Retry-After"] == "5"
    assert site.status == 503 and site.headers.get_content_type() == "text/html"
    assert "Retry-After" in site.headers and "<main" in site.text
    assert write.status == 503 and write.json()["error"]["status"] == 503
    assert health.status == 503 and health.json()["database"]["status"] != "ok"
    assert health.json()["database"]["url"].startswith("postgresql+psycopg://gateway:***@")
    assert cached.status == 200 and cached.headers["X-Cache"] == "HIT"
    assert took < 5, took  # refused at once, far below harakiri (20 s)

    recovered = wait_healthy(stack)
    time.sleep(1)  # the load goes on against the recovered database
    load.stop()
    assert stack.workers() == workers, "a worker was restarted"
    assert runner.get("/backend/api/extensions", headers=stack.auth).status == 200
    assert runner.get("/backend/api/extensions/written-while-down").status == 404
    load.check_after_recovery(cached={200})
    down = [status for kind, status, _ in load.answers if kind == "api"]
    assert 503 in down and down[-1] == 200
    print(f"recovered {recovered:.1f} s after the restart; {len(load.answers)} answers")


def test_postgresql_restarted_in_the_middle_of_writes(stack: Stack) -> None:
    load = Load(stack, "restarted")
    load.start(readers=1, writers=4)
    for _ in range(3):
        time.sleep(0.7)
        stack.postgres.stop()
        stack.postgres.resume()
    time.sleep(1)
    load.stop()
    wait_healthy(stack)
    # Writes renew the cache all along: `/` is rendered anew, and is a 503 while down.
    load.check_after_recovery(cached={200, 503})
