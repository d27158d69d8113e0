"""The served stacks the integration tests and bench/ run on loopback: `make run`
(deploy/run: nginx -> uWSGI -> gateway) and `make dev` (`gateway run`).

Everything started here is stopped here, by PID. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.http import Reply, free_port, request, wait_until_healthy

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
# Screenshots and other files a test leaves for people to look at (git-ignored).
ARTIFACTS = Path(os.environ.get("GATEWAY_TEST_ARTIFACTS") or REPO / "test-artifacts")


@dataclass
class Runner:
    """A `make run` stack (deploy/run) in a private data dir."""

    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(repr=False)
    tls: ssl.SSLContext | None = None  # HTTPS, trusting the test's own CA

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def token(self) -> str:
        token: str = json.loads((self.data_dir / "secrets.json").read_text())["BACKEND_API_TOKEN"]
        return token

    def get(self, path: str, **kwargs: Any) -> Reply:
        return request(self.port, "GET", path, tls=self.tls, **kwargs)

    def write(self, method: str, path: str, body: str | bytes | None = None) -> Reply:
        """A JSON request with the API's bearer token."""
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        return request(self.port, method, path, headers=headers, body=body, tls=self.tls)

    def create(self, slug: str, category: str, summary: str) -> Reply:
        """Add an extension through the API."""
        body = {
            "slug": slug,
            "name": slug,
            "category": category,
            "summary": summary,
            "homepage": "https://example.org/",
        }
        return self.write("POST", "/backend/api/extensions", json.dumps(body))

    def access_line(self, request_id: str, seconds: float = 5) -> str:
        """nginx's access log line of ``request_id`` (written just after the answer)."""
        deadline = time.monotonic() + seconds
        while True:
            log = (self.data_dir / "log" / "access.log").read_text()
            found = [line for line in log.splitlines() if f"rid={request_id} " in line]
            if found or time.monotonic() > deadline:
                assert len(found) == 1, (request_id, found)
                return found[0]
            time.sleep(0.05)

    def from_file(self, reply: Reply) -> bool:
        """True when nginx answered ``reply`` from a page file: its access log line names
        no upstream. (SIGUSR1 makes nginx reopen its logs, which flushes their buffer.)"""
        os.kill(self.pids()["nginx"], signal.SIGUSR1)
        return " upstream_status=- " in self.access_line(reply.headers["X-Request-ID"])

    def pids(self) -> dict[str, int]:
        """The PIDs of uWSGI's master and nginx's master."""
        return {
            name: int((self.run_dir / pidfile).read_text())
            for name, pidfile in (("uwsgi", "uwsgi.pid"), ("nginx", "nginx/nginx.pid"))
        }


def launch(argv: Sequence[str | Path], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` with exactly ``env``, its output in ``log``, in a session of its own
    (no signal meant for the test run reaches it, and its process group can be swept).

    Ctrl-C as a terminal sends it: SIGINT at its default, whatever the test run's parent
    set (a run started in the background ignores SIGINT, every child inherits that, and
    a shell cannot trap a signal ignored when it starts)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_terminal_signals,
        )


def _terminal_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def start_runner(
    data_dir: Path,
    script: Path = REPO / "deploy" / "run",
    tls: ssl.SSLContext | None = None,
    **env: str,
) -> Runner:
    """Start deploy/run (or ``script``, a copy of it) and wait until it serves (over
    HTTPS with ``tls``, when ``env`` names a certificate)."""
    port = free_port()
    environ = {
        "PATH": os.environ["PATH"],
        "GATEWAY_PORT": str(port),
        "GATEWAY_DATA_DIR": str(data_dir),
        "GATEWAY_VENV": str(VENV),
        **env,
    }
    log = data_dir.parent / f"{data_dir.name}-runner.log"
    process = launch([script], environ, log)
    runner = Runner(port, data_dir, process, log, environ, tls)
    try:
        wait_until_healthy(port, 60, tls=tls)
    except TimeoutError:
        stop_runner(runner)
        raise AssertionError(f"deploy/run did not serve:\n{log.read_text()}") from None
    return runner


def stop_runner(runner: Runner) -> None:
    """SIGTERM the runner, as Ctrl-C would, and wait for it."""
    if runner.process.poll() is None:
        runner.process.send_signal(signal.SIGTERM)
        try:
            runner.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(runner.process.pid, signal.SIGKILL)
            runner.process.wait(5)


@dataclass
class DevServer:
    """`make dev`'s server (`gateway run`, development profile) in a private data dir."""

    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        """The API token `gateway run` generated on its first start."""
        token: str = json.loads((self.data_dir / "secrets.json").read_text())["BACKEND_API_TOKEN"]
        return token


def start_dev_server(data_dir: Path, **env: str) -> DevServer:
    """Start `gateway run --port N` with a clean environment and wait until it serves."""
    port = free_port()
    environ = {
        "PATH": os.environ["PATH"],
        "GATEWAY_PROFILE": "development",
        "GATEWAY_DATA_DIR": str(data_dir),
        **env,
    }
    log = data_dir.parent / f"{data_dir.name}-dev.log"
    # Its own process group: the reloader's child is found by it if it outlives its parent.
    process = launch([VENV / "bin" / "gateway", "run", "--port", str(port)], environ, log)
    server = DevServer(port, data_dir, process, log)
    try:
        wait_until_healthy(port, 60)
    except TimeoutError:
        stop_dev_server(server)
        raise AssertionError(f"gateway run did not serve:\n{log.read_text()}") from None
    return server


def stop_dev_server(server: DevServer) -> None:
    """SIGTERM the reloader (it kills the serving child), then sweep its process group."""
    pid = server.process.pid
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(5)
    try:
        os.killpg(pid, signal.SIGKILL)  # only what this server started is left in its group
    except ProcessLookupError:
        pass


def children(pid: int) -> list[int]:
    """The PIDs of ``pid``'s child processes (a master's workers)."""
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    )
    return [int(p) for p in out.stdout.split()]


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped has stopped running)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def uwsgi_pids(runner: Runner) -> list[int]:
    """uWSGI's master and its workers."""
    master = runner.pids()["uwsgi"]
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                children.append(int(entry.name))
    return [master, *children]


@contextmanager
def uwsgi_stopped(runner: Runner) -> Iterator[None]:
    """uWSGI's processes stopped (SIGSTOP) for the block, then continued, by PID."""
    pids = uwsgi_pids(runner)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
