"""Fixtures that run the real stack on loopback: nginx -> uWSGI -> gateway.

Everything started here is stopped here, by PID. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import HTML
from tests.integration.chromium import Browser, start_chromium
from tests.postgres import Postgres

REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark everything here `integration`: `pytest -m "not integration"` is the quick loop."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


VENV = Path(sys.prefix)
# Screenshots and other files a test leaves for people to look at (git-ignored).
ARTIFACTS = Path(os.environ.get("GATEWAY_TEST_ARTIFACTS") or REPO / "test-artifacts")


@dataclass
class Reply:
    """One HTTP response, read whole."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        assert self.headers.get_content_type() == "application/json", self.headers
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def request(
    port: int,
    method: str,
    path: str,
    *,
    host: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    body: bytes | str | None = None,
    timeout: float = 15,
    tls: ssl.SSLContext | None = None,
) -> Reply:
    """Send one request to 127.0.0.1:port with the path exactly as given (not normalised);
    over HTTPS with ``tls`` (its certificate checked for 127.0.0.1)."""
    conn: http.client.HTTPConnection
    if tls is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=tls)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        data = body.encode() if isinstance(body, str) else body
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def wait_until_healthy(
    port: int,
    seconds: float,
    host: str = "127.0.0.1",
    path: str = "/_gateway/health",
    tls: ssl.SSLContext | None = None,
) -> float:
    """Poll ``path`` (the gateway's health) until it answers 200; return how long it took."""
    start = time.monotonic()
    while True:
        try:
            if request(port, "GET", path, host=host, timeout=2, tls=tls).status == 200:
                return time.monotonic() - start
        except OSError:
            pass
        if time.monotonic() - start > seconds:
            raise TimeoutError(f"{path} on port {port} did not answer 200 within {seconds}s")
        time.sleep(0.05)


def render(template: Path, values: dict[str, str]) -> str:
    """``template`` with every ``@NAME@`` replaced, as deploy/lib.sh's render does."""
    text = template.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    assert not re.search(r"@[A-Z_]+@", text), "a placeholder is left"
    return text


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
    (no signal meant for the test run reaches it, and its process group can be swept)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


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


# -- the browsable API's forms, as a browser sends them ------------------------------------

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
API_COOKIE = "gateway_api_session"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def cookie_of(reply: Reply, name: str) -> str:
    """The value of cookie ``name`` that ``reply`` sets."""
    for header in reply.headers.get_all("Set-Cookie") or []:
        jar: SimpleCookie = SimpleCookie(header)
        if name in jar:
            return jar[name].value
    raise AssertionError(f"no {name} cookie in {reply.headers}")


def post_form(
    runner: Runner, path: str, fields: dict[str, str], cookie: str = "", **headers: str
) -> Reply:
    """A form POST as a browser on this site sends it."""
    origin = {"Origin": f"http://127.0.0.1:{runner.port}"}
    extra = {"Cookie": cookie} if cookie else {}
    return request(
        runner.port,
        "POST",
        path,
        headers={**FORM, **HTML, **origin, **extra, **headers},
        body=urlencode(fields),
    )


def sign_in(runner: Runner, token: str | None = None) -> str:
    """Sign a new browser in to the API browser; its session cookie value."""
    form = runner.get("/backend/ui/sign-in", headers=HTML)
    found = CSRF.search(form.text)
    assert form.status == 200 and found
    cookie = f"{API_COOKIE}={cookie_of(form, API_COOKIE)}"
    reply = post_form(
        runner,
        "/backend/ui/sign-in",
        {"token": token or runner.token, "csrf_token": found.group(1)},
        cookie,
    )
    assert reply.status == 303, reply.text
    return cookie_of(reply, API_COOKIE)


def csrf_of(runner: Runner, path: str, cookie: str) -> tuple[str, str]:
    """The CSRF token of the form on ``path``, and the browser's cookie after that page."""
    page = runner.get(path, headers={**HTML, "Cookie": cookie})
    found = CSRF.search(page.text)
    assert page.status == 200 and found, page.status
    if page.headers.get("Set-Cookie"):  # the token went into the session
        cookie = f"{API_COOKIE}={cookie_of(page, API_COOKIE)}"
    return found.group(1), cookie


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory nginx's workers (www-data) may enter: pytest's tmp_path is private."""
    path = Path(tempfile.mkdtemp(prefix="gateway-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def stack() -> Iterator[Runner]:
    """One `make run` stack shared by the tests that only send requests."""
    base = Path(tempfile.mkdtemp(prefix="gateway-stack-"))
    base.chmod(0o755)
    runner = start_runner(base / "data")
    yield runner
    stop_runner(runner)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_stack(postgres: Postgres) -> Iterator[Runner]:
    """A `make run` stack on a PostgreSQL database of its own (GATEWAY_DATABASE_URL),
    which deploy/run migrates and seeds on its first start."""
    base = Path(tempfile.mkdtemp(prefix="gateway-pg-stack-"))
    base.chmod(0o755)
    url = postgres.create_database("pg_stack")
    runner = start_runner(base / "data", GATEWAY_DATABASE_URL=url)
    yield runner
    stop_runner(runner)
    postgres.drop_database("pg_stack")
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest) -> Runner:
    """The served stack on each engine: the read, write and freshness tests run on both."""
    runner: Runner = request.getfixturevalue("stack" if request.param == "sqlite" else "pg_stack")
    return runner


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


@pytest.fixture(scope="module")
def dev_server() -> Iterator[DevServer]:
    """One `make dev` server per module, started on a fresh, empty data dir."""
    base = Path(tempfile.mkdtemp(prefix="gateway-dev-"))
    server = start_dev_server(base / "data")
    yield server
    stop_dev_server(server)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def chromium() -> Iterator[WebDriver]:
    """One headless Chromium per module (tests/integration/chromium.py)."""
    with start_chromium() as driver:
        yield driver


@pytest.fixture
def page(browser: Browser) -> Iterator[Browser]:
    """The module's ``browser`` (its own fixture: which server it points at) with no
    cookies, the default window size and an empty log."""
    browser.reset("/_gateway/health")
    yield browser
    browser.open("/_gateway/health")
    browser.driver.delete_all_cookies()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go: $GATEWAY_TEST_ARTIFACTS or test-artifacts/ in the checkout."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


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


# -- measured figures ------------------------------------------------------------------
# Figures the operations tests measure (latency during reloads, time to first 200), printed
# at the end of the run and, when GATEWAY_MEASUREMENTS names a file, written there as JSON.
MEASURED: dict[str, Any] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not MEASURED:
        return
    terminalreporter.section("measured")
    for name, value in MEASURED.items():
        terminalreporter.write_line(f"{name}: {json.dumps(value)}")
    target = os.environ.get("GATEWAY_MEASUREMENTS")
    if target:
        Path(target).write_text(json.dumps(MEASURED, indent=2))


def run_wrk(
    port: int,
    seconds: int,
    connections: int,
    paths: Sequence[str] = (),
    scheme: str = "http",
    headers: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start wrk on 127.0.0.1:port with the mixed site/API script (bounded in time), on
    ``paths`` when given ("html:/x" asks for /x as a browser does), every request
    carrying ``headers``."""
    extra = [f"-H{name}: {value}" for name, value in (headers or {}).items()]
    return subprocess.Popen(
        [
            "wrk",
            *extra,
            f"-c{connections}",
            "-t2",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(Path(__file__).parent / "mixed.lua"),
            f"{scheme}://127.0.0.1:{port}/",
            *(["--", *paths] if paths else []),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wrk_result(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    """Wait for wrk and return its RESULT line."""
    output, _ = process.communicate(timeout=timeout)
    line = next((x for x in output.splitlines() if x.startswith("RESULT ")), None)
    assert line, output
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    return result


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
