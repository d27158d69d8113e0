"""HTTPS at nginx on a `make run` stack (GATEWAY_TLS_CERT, GATEWAY_TLS_KEY) with a
certificate the test makes itself: curl and headless Chromium trusting the test's CA,
HTTP/2, the redirect from plain HTTP, HSTS, Secure cookies, sign-in and stars, cache
and page-file hits over HTTPS; and what a client cannot change about the scheme."""

from __future__ import annotations

import gzip
import shutil
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from selenium.webdriver.common.by import By

from tests.support.chromium import Browser, start_chromium
from tests.support.http import request
from tests.support.stack import Runner, start_runner, stop_runner
from tests.support.tls_files import TlsFiles, make_tls_files

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
GZIP = {"Accept-Encoding": "gzip, deflate, br, zstd"}


@pytest.fixture(scope="module")
def files() -> Iterator[TlsFiles]:
    folder = Path(tempfile.mkdtemp(prefix="gateway-tls-"))
    folder.chmod(0o755)
    yield make_tls_files(folder / "tls")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_stack(files: TlsFiles) -> Iterator[Runner]:
    base = Path(tempfile.mkdtemp(prefix="gateway-https-"))
    base.chmod(0o755)
    runner = start_runner(
        base / "data",
        tls=files.client_context(),
        GATEWAY_TLS_CERT=str(files.cert),
        GATEWAY_TLS_KEY=str(files.key),
        GATEWAY_TRUSTED_HOSTS="localhost,127.0.0.1",
    )
    yield runner
    stop_runner(runner)
    shutil.rmtree(base, ignore_errors=True)


def curl(files: TlsFiles, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """curl trusting the test's CA only."""
    return subprocess.run(
        ["curl", "-s", "--cacert", str(files.ca), *args, url],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_curl_gets_http2_with_the_ca_trusted(tls_stack: Runner, files: TlsFiles) -> None:
    for host in ("localhost", "127.0.0.1"):
        done = curl(files, f"https://{host}:{tls_stack.port}/", "-o", "/dev/null",
                    "-w", "%{http_version} %{http_code} %{ssl_verify_result}")  # fmt: skip
        assert done.stdout == "2 200 0", done.stderr
    # TLS 1.2 and 1.3 only.
    for version, ok in (("--tlsv1.3", True), ("--tls-max", False)):
        args = [version] if ok else ["--tls-max", "1.1", "--tlsv1.1"]
        done = curl(files, f"https://localhost:{tls_stack.port}/", "-o", "/dev/null", *args)
        assert (done.returncode == 0) is ok, (version, done.returncode)


def test_plain_http_to_the_https_port_is_sent_to_https(tls_stack: Runner) -> None:
    reply = request(tls_stack.port, "POST", "/backend/api/extensions?x=1", body="{}")
    assert reply.status == 308
    assert (
        reply.headers["Location"]
        == f"https://127.0.0.1:{tls_stack.port}/backend/api/extensions?x=1"
    )


def test_hsts_on_every_https_answer(tls_stack: Runner) -> None:
    for path in ("/", "/nope", "/backend/api/extensions/nope", "/static/style.css", "/%00"):
        reply = tls_stack.get(path)
        assert reply.headers["Strict-Transport-Security"] == "max-age=63072000", path


def test_cookies_are_secure_and_prefixed(tls_stack: Runner) -> None:
    origin = {
        "Origin": f"https://127.0.0.1:{tls_stack.port}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    star = request(tls_stack.port, "POST", "/stars/flask-login", headers={**HTML, **origin},
                   body="action=star", tls=tls_stack.tls)  # fmt: skip
    cookie = star.headers["Set-Cookie"]
    assert star.status == 303 and cookie.startswith("__Host-gateway_site_session=")
    assert "; Secure" in cookie and "; Path=/;" in cookie and "Domain" not in cookie
    form = tls_stack.get("/backend/ui/sign-in", headers=HTML)
    api_cookie = form.headers["Set-Cookie"]
    assert api_cookie.startswith("__Secure-gateway_api_session=")
    assert "; Secure" in api_cookie and "; Path=/backend" in api_cookie


def test_external_urls_say_https_and_clients_cannot_change_the_scheme(tls_stack: Runner) -> None:
    for forwarded in ({}, {"X-Forwarded-Proto": "http"}, {"X-Forwarded-Ssl": "off"}):
        reply = tls_stack.get("/backend", headers=forwarded)
        assert reply.status == 308
        assert reply.headers["Location"] == f"https://127.0.0.1:{tls_stack.port}/backend/"


def test_no_client_header_turns_plain_http_into_https(stack: Runner) -> None:
    for forwarded in (
        {"X-Forwarded-Proto": "https"},
        {"X-Forwarded-Ssl": "on"},
        {"Forwarded": "proto=https"},
    ):
        reply = stack.get("/backend", headers=forwarded)
        assert reply.headers["Location"].startswith("http://"), forwarded
        assert "Strict-Transport-Security" not in reply.headers


def test_cache_and_page_file_hits_over_https(tls_stack: Runner) -> None:
    for headers in (HTML, {**HTML, **GZIP}):
        first = tls_stack.get("/category/forms", headers=headers)
        second = tls_stack.get("/category/forms", headers=headers)
        assert second.headers["X-Cache"] == "HIT" and tls_stack.from_file(second)
        assert second.body == first.body
    files = list((tls_stack.data_dir / "pages").glob("*/https/*/frontend/html/category/forms.*"))
    assert {f.name for f in files} == {"forms..gz.html", "forms..id.html"}
    assert (
        gzip.decompress((files[0].parent / "forms..gz.html").read_bytes())
        == (files[0].parent / "forms..id.html").read_bytes()
    )


def sni_handshake(port: int, server_name: str, host: str, files: TlsFiles) -> tuple[bool, int]:
    """A TLS handshake naming ``server_name`` (not checked), then a GET with ``host``:
    (whether the certificate was valid for that name, the status)."""
    context = ssl.create_default_context(cafile=str(files.ca))
    context.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as conn:
            cert = conn.getpeercert()
            assert cert is not None
            alt_names = cast(tuple[tuple[str, str], ...], cert.get("subjectAltName", ()))
            names = [v for k, v in alt_names if k == "DNS"]
            conn.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            head = conn.recv(65536).decode("latin-1")
    return server_name in names, int(head.split()[1])


def test_wrong_sni_and_a_host_other_than_sni(tls_stack: Runner, files: TlsFiles) -> None:
    # An unknown name: the same certificate (not valid for it), and no page: 421.
    assert sni_handshake(tls_stack.port, "evil.example", "evil.example", files) == (False, 421)
    # A trusted SNI with an untrusted Host: the Host decides, and is refused.
    assert sni_handshake(tls_stack.port, "localhost", "evil.example", files) == (True, 421)
    # Two trusted names (one certificate covers both): served, as browsers reuse a
    # connection for every name its certificate covers.
    assert sni_handshake(tls_stack.port, "localhost", "127.0.0.1", files) == (True, 200)


@pytest.fixture(scope="module")
def https_browser(tls_stack: Runner, files: TlsFiles) -> Iterator[Browser]:
    with start_chromium(trust=files.ca) as driver:
        yield Browser(driver, f"https://localhost:{tls_stack.port}")


@pytest.mark.browser
def test_chromium_stars_and_signs_in_over_https(https_browser: Browser, tls_stack: Runner) -> None:
    page = https_browser
    page.open("/extensions/flask-login")
    # A certificate Chromium did not trust would show its interstitial, not the page.
    assert "Flask-Login" in page.driver.title or "flask-login" in page.driver.page_source
    assert page.driver.execute_script("return window.isSecureContext") is True
    button = page.driver.find_element(
        By.CSS_SELECTOR, "form.star-form[action='/stars/flask-login'] button[name='action']"
    )
    page.click_and_wait(button)
    cookie = page.driver.get_cookie("__Host-gateway_site_session")
    assert cookie is not None and cookie["secure"] and cookie["httpOnly"]
    assert "aside" in page.driver.page_source and "stars" in page.driver.page_source
    # The API browser's sign-in, over HTTPS, with its own Secure cookie.
    page.open("/backend/ui/sign-in")
    page.driver.find_element(By.ID, "token").send_keys(tls_stack.token)
    submit = page.driver.find_element(
        By.CSS_SELECTOR, "form button[type='submit'], form input[type='submit']"
    )
    page.click_and_wait(submit)
    api = page.driver.get_cookie("__Secure-gateway_api_session")
    assert api is not None and api["secure"] and api["path"] == "/backend"
    page.open("/backend/ui/extensions/new")
    assert "sign-in" not in page.path()
    assert page.console_errors() == []


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_sessions_resume(tls_stack: Runner, files: TlsFiles, version: ssl.TLSVersion) -> None:
    context = files.client_context()
    context.minimum_version = context.maximum_version = version
    session = None
    reused = []
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", tls_stack.port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="localhost", session=session) as conn:
                conn.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                while conn.recv(65536):  # TLS 1.3 sends its ticket after the handshake
                    pass
                reused.append(conn.session_reused)
                session = conn.session
    assert reused == [False, True]
