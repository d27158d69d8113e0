"""The shared cache on a real Redis: stopped, frozen and restarted under load."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import (
    MEASURED,
    Runner,
    free_port,
    run_wrk,
    start_runner,
    stop_runner,
    wrk_result,
)


class Redis:
    """A private redis-server on loopback, stopped by PID."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ping = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
            )
            if ping.stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(10)

    def signal(self, sig: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, sig)


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
    assert result["max_ms"] < 1000
    # Caching is back without a restart.
    runner.get("/category/orm")
    assert runner.get("/category/orm").headers["X-Cache"] == "HIT"
    health = runner.get("/_gateway/health").json()
    assert health["status"] == "ok"
    log = runner.log.read_text()
    assert log.count("cache store failed") <= 4 * 2  # once per outage and worker at most
