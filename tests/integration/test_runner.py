"""`make run` (deploy/run): starts once, stops cleanly, leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.support.stack import REPO, children, pid_alive, start_runner, stop_runner


def test_runner_serves_refuses_a_second_start_and_stops_cleanly(public_dir: Path) -> None:
    runner = start_runner(public_dir / "data")
    try:
        pids = runner.pids()
        workers = children(pids["uwsgi"])
        assert len(workers) == 4
        assert (public_dir / "data" / "secrets.json").stat().st_mode & 0o777 == 0o600
        assert "secrets and the API token" in runner.log.read_text()

        second = subprocess.run(
            [REPO / "deploy" / "run"], env=runner.env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 1
        assert "already running" in second.stderr
        assert runner.get("/backend/healthz").status == 200  # the first one is untouched
    finally:
        started = time.monotonic()
        stop_runner(runner)
        stopped_in = time.monotonic() - started
    assert runner.process.returncode == 0
    assert stopped_in < 10, runner.log.read_text()[-3000:]
    for pid in [*pids.values(), *workers]:
        assert not pid_alive(pid), pid
    assert sorted(p.name for p in runner.run_dir.iterdir()) == []
    log = runner.log.read_text()
    assert "make run: stopped" in log


def test_ctrl_c_stops_everything(public_dir: Path) -> None:
    runner = start_runner(public_dir / "data")
    pids = runner.pids()
    # Ctrl-C reaches the runner's whole process group; the servers run in their own.
    os.killpg(runner.process.pid, signal.SIGINT)
    try:
        runner.process.wait(30)
    except subprocess.TimeoutExpired:
        # What the runner is still doing (its processes and their states), then the log.
        tree = subprocess.run(
            ["ps", "-e", "-o", "pid,ppid,sid,stat,wchan:20,args"], capture_output=True, text=True
        ).stdout
        tree = "\n".join(
            line for line in tree.splitlines() if str(runner.process.pid) in line.split()[:3]
        )
        stop_runner(runner)
        log = runner.log.read_text()[-3000:]
        raise AssertionError(f"make run did not stop:\n{tree}\n{log}") from None
    assert runner.process.returncode == 0
    assert not any(pid_alive(pid) for pid in pids.values())
    assert list(runner.run_dir.iterdir()) == []


def test_a_taken_port_is_reported(public_dir: Path) -> None:
    runner = start_runner(public_dir / "first")
    try:
        env = {**runner.env, "GATEWAY_DATA_DIR": str(public_dir / "second")}
        second = subprocess.run(
            [REPO / "deploy" / "run"], env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 1
        assert f"port {runner.port} on 127.0.0.1 is taken" in second.stderr
    finally:
        stop_runner(runner)
