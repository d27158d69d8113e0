"""Malformed requests through nginx and uWSGI: a clear 4xx in the right format, sent once;
and the privileges of `make run` (no app code as root, nothing loaded from a packet).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.http import Reply, request
from tests.support.stack import REPO, Runner, children, start_runner, stop_runner

LONG = "a" * 9000


def raw(port: int, data: bytes) -> Reply:
    """Send bytes as they are (no client library fixing them up) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(data)
        # The method decides whether a body follows the headers (none after HEAD).
        method = data.split(b" ", 1)[0].decode("latin-1")
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        return Reply(response.status, response.headers, response.read())


def assert_format(reply: Reply, status: int, api: bool) -> None:
    """``status`` in the API's JSON shape, or as a page in the site's layout."""
    assert reply.status == status, (reply.status, reply.body[:200])
    assert len(reply.headers.get_all("X-Request-ID") or []) == 1
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    if api:
        assert reply.json() == {
            "error": {"status": status, "message": reply.json()["error"]["message"]}
        }
    else:
        assert reply.headers.get_content_type() == "text/html"
        assert b'class="site-header"' in reply.body and b"/static/style.css" in reply.body


@pytest.mark.parametrize("prefix", ["", "/backend"], ids=["site", "api"])
@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        pytest.param("GET", "/%00", {}, 400, id="nul-in-path"),
        pytest.param("TRACE", "/x", {}, 405, id="trace"),
        pytest.param("GET", "/x?q=" + LONG, {}, 414, id="long-uri"),
        pytest.param("GET", "/x", {"X-Big": LONG}, 431, id="huge-header"),
        pytest.param(
            "GET", "/x", {f"X-K{n}": "b" * 6000 for n in range(5)}, 431, id="30kb-headers"
        ),
        pytest.param("GET", "/static/nope.css", {}, 404, id="missing-static-file"),
    ],
)
def test_errors_nginx_answers_itself_are_in_the_apps_format(
    stack: Runner, prefix: str, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    reply = request(stack.port, method, prefix + path, headers=headers)
    assert_format(reply, status, api=bool(prefix))


SHORT_HEADERS = b"".join(b"%x:\r\n" % n for n in range(0x1000, 0x1000 + 3400))


@pytest.mark.parametrize("prefix", ["", "/backend"], ids=["site", "api"])
@pytest.mark.parametrize(
    ("line", "headers", "status"),
    [
        pytest.param(b"CONNECT {path} HTTP/1.1", b"", 405, id="connect"),
        pytest.param(
            b"GET {path}/%2e%2e/%2e%2e/%2e%2e/x HTTP/1.1", b"", 400, id="dot-dot-above-root"
        ),
        pytest.param(
            b"POST {path} HTTP/1.1",
            b"Content-Length: 1\r\nContent-Length: 2\r\n",
            400,
            id="duplicate-content-length",
        ),
        pytest.param(
            b"POST {path} HTTP/1.1",
            b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            400,
            id="content-length-and-chunked",
        ),
        pytest.param(
            b"POST {path} HTTP/1.0", b"Transfer-Encoding: chunked\r\n", 400, id="chunked-in-1.0"
        ),
        pytest.param(b"GET {path} HTTP/1.1", SHORT_HEADERS, 431, id="3400-short-headers"),
        # nginx would answer these with its own 505 and 501: malformed input, a 400.
        pytest.param(b"GET {path} HTTP/2.0", b"", 400, id="http-2.0-request-line"),
        pytest.param(b"GET {path} HTTP/9.9", b"", 400, id="http-9.9-request-line"),
        pytest.param(
            b"POST {path} HTTP/1.1", b"Transfer-Encoding: gzip\r\n", 400, id="unknown-coding"
        ),
    ],
)
def test_hostile_raw_requests_are_nginx_4xx_in_the_apps_format(
    stack: Runner, prefix: str, line: bytes, headers: bytes, status: int
) -> None:
    """Requests no client library would send, refused by nginx before uWSGI sees them."""
    head = line.replace(b"{path}", prefix.encode() + b"/x")
    data = head + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers + b"\r\n0\r\n\r\n"
    assert_format(raw(stack.port, data), status, api=bool(prefix))


@pytest.mark.parametrize(
    ("line", "api"),
    [
        (b"TRACE //backend/api/categories HTTP/1.1", True),
        (b"TRACE /%62ackend/api/categories HTTP/1.1", True),
        (b"TRACE /./backend/api/categories HTTP/1.1", True),
        (b"TRACE http://127.0.0.1/backend/api/categories HTTP/1.1", True),
        (b"TRACE /backendx/api HTTP/1.1", False),
        (b"TRACE //x/../backend/ HTTP/1.1", True),
    ],
)
def test_nginx_errors_follow_the_path_the_app_would_see(
    stack: Runner, line: bytes, api: bool
) -> None:
    # The dispatcher sees nginx's normalised path: so does the choice of error format.
    data = line + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    assert_format(raw(stack.port, data), 405, api)


def test_control_bytes_in_flight_leave_the_health_figures_readable(stack: Runner) -> None:
    # /_gateway/health reads uWSGI's stats, which hold the raw headers of requests in
    # flight (its own among them).
    for value in (b"\x01", b'a"b\\c', b"\xe9\xff", b"\x1b[31m"):
        data = b"GET /_gateway/health HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + value
        reply = raw(stack.port, data + b"\r\nConnection: close\r\n\r\n")
        assert reply.status == 200, value
        assert isinstance(reply.json()["cache"]["evictions"], int), value


@pytest.mark.parametrize("method", ["PROPFIND", "BREW", "A" * 300])
def test_odd_methods_are_the_apps_4xx(stack: Runner, method: str) -> None:
    """Methods nginx passes on: the apps answer 404/405 in their formats, never a 5xx."""
    site = request(stack.port, method, "/x")
    assert_format(site, 404, api=False)
    api = request(stack.port, method, "/backend/api/extensions")
    assert_format(api, 405, api=True)


@pytest.mark.parametrize(("prefix", "api"), [("", False), ("/backend", True), ("/backendx", False)])
def test_a_bad_content_length_is_a_400_in_the_apps_format(
    stack: Runner, prefix: str, api: bool
) -> None:
    head = f"POST {prefix}/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n"
    assert_format(raw(stack.port, head.encode()), 400, api)


def test_a_site_body_over_nginx_limit_is_the_sites_413(stack: Runner) -> None:
    reply = request(stack.port, "POST", "/stars/flask-login", body=b"x" * (3 * 1024 * 1024))
    assert_format(reply, 413, api=False)


def test_many_extra_headers_reach_the_app_without_them_and_once(stack: Runner) -> None:
    request_id = "many-headers-0001"
    headers = {f"X-Extra-{n}": f"value-{n}" for n in range(150)}
    reply = stack.get("/backend/healthz", headers={**headers, "X-Request-ID": request_id})
    assert reply.status == 200 and reply.json() == {"status": "ok"}
    line = stack.access_line(request_id)
    # One try only: a retry would read "upstream_status=502, 200".
    assert "upstream_status=200 " in line


def chunked_post(port: int, path: str, token: str, body: bytes) -> Reply:
    """A POST whose body is sent with Transfer-Encoding: chunked."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request(
            "POST",
            path,
            body=iter([body[: len(body) // 2], body[len(body) // 2 :]]),
            headers=headers,
            encode_chunked=True,
        )
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def test_a_chunked_body_is_read_whole(stack: Runner) -> None:
    body = {
        "slug": "flask-chunked",
        "name": "Flask-Chunked",
        "category": "testing",
        "summary": "Sent in two chunks.",
        "homepage": "https://example.org/",
    }
    created = chunked_post(
        stack.port, "/backend/api/extensions", stack.token, json.dumps(body).encode()
    )
    try:
        assert created.status == 201, created.body
        assert (
            stack.get("/backend/api/extensions/flask-chunked").json()["summary"] == body["summary"]
        )
    finally:
        stack.write("DELETE", "/backend/api/extensions/flask-chunked")
    too_big = chunked_post(stack.port, "/backend/api/extensions", stack.token, b" " * (1536 * 1024))
    assert too_big.status == 413 and too_big.json()["error"]["status"] == 413


def test_a_request_id_is_in_both_logs(stack: Runner) -> None:
    request_id = "both-logs-0001"
    reply = request(
        stack.port,
        "DELETE",
        "/backend/api/extensions/no-such-extension",
        headers={"Authorization": "Bearer wrong", "X-Request-ID": request_id},
    )
    assert reply.status == 401 and reply.headers["X-Request-ID"] == request_id
    created = stack.create("flask-logged", "testing", "Logged with its request id.")
    assert created.status == 201
    try:
        rid = created.headers["X-Request-ID"]
        deadline = time.monotonic() + 5
        while (
            f"[{rid}] backend_app.api: created extension flask-logged" not in stack.log.read_text()
        ):
            assert time.monotonic() < deadline, "the app's log line has no request id"
            time.sleep(0.1)
        assert "upstream_status=201 " in stack.access_line(rid)
    finally:
        stack.write("DELETE", "/backend/api/extensions/flask-logged")


# -- privileges ------------------------------------------------------------------------


def www_data_can_run(checkout: Path) -> bool:
    """True when www-data can import the gateway from ``checkout`` with this venv."""
    probe = subprocess.run(
        [
            "runuser",
            "-u",
            "www-data",
            "--",
            f"{sys.prefix}/bin/python",
            "-c",
            "import gateway.compose",
        ],
        cwd=checkout,
        capture_output=True,
    )
    return probe.returncode == 0


def uid_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


@pytest.mark.skipif(os.geteuid() != 0, reason="make run drops privileges only when root starts it")
def test_no_app_code_runs_as_root(stack: Runner) -> None:
    pids = stack.pids()
    workers = children(pids["uwsgi"])
    nginx_workers = children(pids["nginx"])
    assert len(workers) == 4 and nginx_workers
    if www_data_can_run(REPO):
        assert 0 not in {uid_of(pid) for pid in [pids["uwsgi"], *workers, *nginx_workers]}
        sock = (stack.run_dir / "uwsgi.sock").stat()
        assert (sock.st_uid, sock.st_gid) != (0, 0) and sock.st_mode & 0o777 == 0o660
        secrets = (stack.data_dir / "secrets.json").stat()
        assert secrets.st_mode & 0o777 == 0o600 and secrets.st_uid == sock.st_uid
    else:  # a checkout www-data cannot read: privileged, and said in one line
        assert stack.log.read_text().count("make run: running privileged") == 1


@pytest.fixture
def private_checkout() -> Iterator[Path]:
    """A copy of the checkout in a folder only root may enter (like a home directory)."""
    base = Path(tempfile.mkdtemp(prefix="gateway-private-"))
    base.chmod(0o700)
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    )
    for name in files.stdout.splitlines():
        target = base / "repo" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, target)
    yield base / "repo"
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="make run drops privileges only when root starts it")
def test_a_private_checkout_runs_privileged_and_says_why(private_checkout: Path) -> None:
    data = private_checkout / "var"
    runner = start_runner(data, script=private_checkout / "deploy" / "run")
    try:
        lines = [
            line for line in runner.log.read_text().splitlines() if "running privileged" in line
        ]
        assert len(lines) == 1 and "www-data" in lines[0] and "clone into" in lines[0]
        assert runner.get("/backend/healthz").status == 200
    finally:
        stop_runner(runner)


def uwsgi_packet(variables: dict[str, str]) -> bytes:
    """A request in uWSGI's own protocol, as only nginx should ever send one."""
    body = b"".join(
        struct.pack("<H", len(k)) + k.encode() + struct.pack("<H", len(v)) + v.encode()
        for k, v in variables.items()
    )
    return struct.pack("<BHB", 0, len(body), 0) + body


@pytest.mark.parametrize("variable", ["UWSGI_FILE", "UWSGI_SCRIPT", "UWSGI_MODULE"])
def test_a_packet_cannot_make_uwsgi_load_code(
    stack: Runner, public_dir: Path, variable: str
) -> None:
    # Where the workers could read the code and write the marker: only uWSGI's refusal
    # to load a second app keeps the marker away.
    public_dir.chmod(0o777)
    marker = public_dir / "loaded"
    evil = public_dir / "evil_app.py"
    evil.write_text(f"open({str(marker)!r}, 'w').write('x')\napplication = None\n")
    value = str(evil) if variable == "UWSGI_FILE" else "evil_app"
    packet = uwsgi_packet(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/backend/healthz",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "UWSGI_APPID": "evil",
            "UWSGI_CHDIR": str(public_dir),
            variable: value,
        }
    )
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(15)
        sock.connect(str(stack.run_dir / "uwsgi.sock"))
        sock.sendall(packet)
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"status":"ok"}\n')
    assert not marker.exists()
    assert "you cannot load more than 1 apps" in stack.log.read_text()


def test_an_unreachable_app_is_a_502_in_the_apps_format(stack: Runner) -> None:
    sock = stack.run_dir / "uwsgi.sock"
    away = sock.with_name("uwsgi.sock.away")
    sock.rename(away)  # uWSGI keeps listening; nginx finds no socket to connect to
    try:
        assert_format(stack.get("/category/orm"), 502, api=False)
        assert_format(stack.get("/backend/api/categories"), 502, api=True)
    finally:
        away.rename(sock)
    assert stack.get("/backend/healthz").status == 200


READ_HEADERS = [
    "Cookie", "Accept", "Authorization", "Origin", "Referer", "User-Agent", "X-CSRFToken",
    "X-Request-ID", "Content-Type", "If-Match", "If-None-Match", "Range",
]  # fmt: skip
HOSTILE_TARGETS = [
    ("GET", "/"), ("GET", "/extensions/flask-login"), ("GET", "/nope"), ("HEAD", "/"),
    ("POST", "/stars/flask-login"), ("GET", "/backend/api/categories"), ("GET", "/backend/"),
    ("POST", "/backend/api/extensions"), ("GET", "/backend/ui/sign-in"),
    ("GET", "/_gateway/health"),
]  # fmt: skip
header_bytes = st.one_of(
    st.binary(max_size=200),
    st.binary(min_size=3000, max_size=7000),
    st.sampled_from(
        [
            b"theme=caf\xe9",
            b"gateway_site_session=caf\xe9",
            b"gateway_api_session=\xff\xfe",
            b'\xe9"; gateway_site_session=x',
            b"\x00",
            b"\x7f\x1b[31m",
            b"\xc3\x28",
        ]
    ),  # fmt: skip
).map(lambda value: value.replace(b"\r", b"").replace(b"\n", b""))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    target=st.sampled_from(HOSTILE_TARGETS),
    name=st.sampled_from(READ_HEADERS),
    value=header_bytes,
)
def test_no_header_bytes_make_a_5xx_through_nginx(
    stack: Runner, target: tuple[str, str], name: str, value: bytes
) -> None:
    method, path = target
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{name}: ".encode() + value
    body = b"{}" if method == "POST" else b""
    data = head + f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
    reply = raw(stack.port, data)
    assert reply.status < 500, (target, name, value[:80], reply.body[:200])
    if reply.status >= 400 and method != "HEAD" and not path.startswith("/_gateway"):
        kind = "application/json" if path.startswith("/backend") else "text/html"
        assert reply.headers.get_content_type() == kind, (target, name, value[:80])


def test_undecodable_cookies_are_anonymous_visits_through_nginx(stack: Runner) -> None:
    before = stack.log.read_text(errors="replace").count("Traceback")
    for cookie in (b"theme=caf\xe9", b"gateway_site_session=caf\xe9", b"gateway_api_session=\xe9"):
        for path in ("/", "/nope", "/backend/api/categories", "/backend/ui/sign-in"):
            data = b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + cookie
            reply = raw(stack.port, data + b"\r\nConnection: close\r\n\r\n")
            assert reply.status == (404 if path == "/nope" else 200), (cookie, path)
    # The app never failed on them: no traceback in uWSGI's log.
    assert stack.log.read_text(errors="replace").count("Traceback") == before


def test_a_failing_gateway_layer_is_a_clean_500_through_uwsgi_and_nginx(tmp_path: Path) -> None:
    from bench.servers import uwsgi_site

    tmp_path.chmod(0o755)
    env = {"GATEWAY_PROFILE": "testing", "GATEWAY_DATA_DIR": str(tmp_path / "data")}
    site = uwsgi_site(tmp_path, "broken", "tests.support.broken_gateway:application", env)
    try:
        wait_for_answer = time.monotonic() + 60
        while True:
            try:
                api = request(
                    site.port, "GET", "/backend/api/categories",
                    headers={"X-Request-ID": "broken-layer-0001"},
                )  # fmt: skip
                break
            except OSError:
                assert time.monotonic() < wait_for_answer
                time.sleep(0.1)
        page = request(site.port, "GET", "/extensions/flask-login")
    finally:
        site.stop()
    # The guard's answer, not nginx's 502: JSON under /backend, the site's page elsewhere.
    assert api.status == 500 and api.json()["error"]["status"] == 500
    assert api.headers["X-Request-ID"] == "broken-layer-0001"
    assert page.status == 500 and b'class="site-header"' in page.body
    log = (tmp_path / "broken" / "uwsgi.log").read_text(errors="replace")
    assert "[broken-layer-0001] gateway.http.error_guard" in log
    assert "a layer of the gateway broke" in log
    assert "SystemError" not in log
    access = (tmp_path / "broken" / "nginx" / "logs" / "access.log").read_text()
    assert " 500 " in access and "upstream_status=500 " in access and " 502 " not in access
