"""The shared cache on a real Redis: stopped, frozen and restarted under load."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.http import free_port
from tests.support.load import MEASURED, run_wrk, wrk_result
from tests.support.redis_server import Redis
from tests.support.stack import Runner, start_runner, stop_runner


@pytest.fixture
def redis_stack(public_dir: Path) -> Iterator[tuple[Runner, Redis]]:
    redis = Redis(free_port(), public_dir)
    redis.start()
    runner = start_runner(
        public_dir / "data", GATEWAY_CACHE_URL=f"redis://127.0.0.1:{redis.port}/0"
    )
    try:
        yield runner, redis
    finally:
        stop_runner(runner)
        redis.stop()


def test_pages_answer_while_redis_stops_freezes_and_returns(
    redis_stack: tuple[Runner, Redis],
) -> None:
    runner, redis = redis_stack
    for _ in range(2):
        runner.get("/category/orm")
    assert runner.get("/category/orm").headers["X-Cache"] == "HIT"

    load = run_wrk(runner.port, seconds=20, connections=16)
    time.sleep(2)
    redis.stop()  # down: connections refused
    time.sleep(4)
    redis.start()  # back, empty
    time.sleep(4)
    redis.signal(signal.SIGSTOP)  # frozen: connections hang until the client times out
    time.sleep(4)
    redis.signal(signal.SIGCONT)
    result = wrk_result(load, timeout=60)
    MEASURED["redis stopped, restarted, frozen under load (16 connections, 20 s)"] = result

    assert result["requests"] > 500
    assert result["non2xx"] == 0
    assert (result["connect"], result["read"], result["write"], result["timeout"]) == (0, 0, 0, 0)
    # No request waited for the store: a failing one is skipped, not retried.
    assert result["max_ms"] < 1000
    # Caching is back without a restart.
    runner.get("/category/orm")
    assert runner.get("/category/orm").headers["X-Cache"] == "HIT"
    health = runner.get("/_gateway/health").json()
    assert health["status"] == "ok"
    log = runner.log.read_text()
    # Logged once when a worker finds the store failing, not once per request.
    assert 2 <= log.count("cache store failed") <= 4 * 4 < result["requests"]
