"""The installed service with HTTPS (deploy/install with GATEWAY_TLS_CERT and
GATEWAY_TLS_KEY): the site on GATEWAY_TLS_PORT, plain HTTP on GATEWAY_PORT answering a
308 to it but for ACME challenges, and `service uwsgi reload` under HTTPS load losing
nothing. Root only, like test_service (it installs a system service)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.http import free_port, request, wait_until_healthy
from tests.support.load import MEASURED, run_wrk, wrk_result
from tests.support.service import nginx_running, service, start_slowly
from tests.support.stack import REPO
from tests.support.tls_files import TlsFiles, make_tls_files

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installs a system service: root only")


@dataclass
class TlsService:
    http_port: int
    https_port: int
    base: Path
    files: TlsFiles


@pytest.fixture(scope="module")
def tls_svc() -> Iterator[TlsService]:
    if Path("/etc/default/gateway").exists():
        pytest.fail("/etc/default/gateway exists: a real installation is here; not touching it")
    nginx_was_running = nginx_running()
    base = Path(tempfile.mkdtemp(prefix="gateway-service-tls-"))
    base.chmod(0o755)
    files = make_tls_files(base / "tls")
    http_port, https_port = free_port(), free_port()
    env = {
        "PATH": os.environ["PATH"],
        "GATEWAY_PORT": str(http_port),
        "GATEWAY_TLS_PORT": str(https_port),
        "GATEWAY_TLS_CERT": str(files.cert),
        "GATEWAY_TLS_KEY": str(files.key),
        "GATEWAY_PREFIX": str(base / "opt"),
        "GATEWAY_DATA_DIR": str(base / "data"),
        "GATEWAY_LOG_DIR": str(base / "log"),
        "GATEWAY_RUN_DIR": str(base / "run"),
        "GATEWAY_TRUSTED_HOSTS": "127.0.0.1,localhost",
        "GATEWAY_PROCESSES": "2",
    }
    installed = subprocess.run(
        [REPO / "deploy" / "install"], env=env, capture_output=True, text=True, timeout=600
    )
    try:
        assert installed.returncode == 0, installed.stdout + installed.stderr
        start_slowly(2)
        wait_until_healthy(https_port, 30, tls=files.client_context())
        yield TlsService(http_port, https_port, base, files)
    finally:
        removed = subprocess.run(
            [REPO / "deploy" / "uninstall", "--purge"], capture_output=True, text=True, timeout=60
        )
        if not nginx_was_running and nginx_running():
            os.kill(int(Path("/run/nginx.pid").read_text()), 15)
        shutil.rmtree(base, ignore_errors=True)
        assert removed.returncode == 0, removed.stdout + removed.stderr
        assert not Path("/etc/nginx/gateway-tls.conf").exists()


def test_https_with_http2_hsts_and_secure_cookies(tls_svc: TlsService) -> None:
    done = subprocess.run(
        ["curl", "-s", "--cacert", str(tls_svc.files.ca), "-o", "/dev/null", "-w",
         "%{http_version} %{http_code}", f"https://localhost:{tls_svc.https_port}/"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.stdout == "2 200", done.stderr
    page = request(tls_svc.https_port, "GET", "/backend/ui/sign-in",
                   tls=tls_svc.files.client_context())  # fmt: skip
    assert page.headers["Strict-Transport-Security"] == "max-age=63072000"
    assert page.headers["Set-Cookie"].startswith("__Secure-gateway_api_session=")
    assert "; Secure" in page.headers["Set-Cookie"]


def test_plain_http_redirects_to_https_but_acme_challenges(tls_svc: TlsService) -> None:
    moved = request(tls_svc.http_port, "POST", "/backend/api/extensions?a=1", body="{}")
    assert moved.status == 308
    assert moved.headers["Location"] == (
        f"https://127.0.0.1:{tls_svc.https_port}/backend/api/extensions?a=1"
    )
    assert "Strict-Transport-Security" not in moved.headers
    webroot = tls_svc.base / "data" / "acme" / ".well-known" / "acme-challenge"
    (webroot / "token-123").write_text("token-123.thumbprint")
    (webroot / "token-123").chmod(0o644)
    challenge = request(tls_svc.http_port, "GET", "/.well-known/acme-challenge/token-123")
    assert challenge.status == 200 and challenge.body == b"token-123.thumbprint"
    assert challenge.headers.get_content_type() == "text/plain"
    missing = request(tls_svc.http_port, "GET", "/.well-known/acme-challenge/nope")
    assert missing.status == 404


def test_a_reload_under_https_load_loses_nothing(tls_svc: TlsService) -> None:
    load = run_wrk(tls_svc.https_port, seconds=15, connections=32, scheme="https")
    time.sleep(1)
    staged = tls_svc.base / "opt" / "app"
    with (staged / "gateway" / "wsgi.py").open("a") as handle:
        handle.write("# an HTTPS release\n")
    reloaded = service("reload")
    assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
    result = wrk_result(load, timeout=60)
    MEASURED["reload under HTTPS load (32 connections)"] = result
    assert result["requests"] > 1000 and result["non2xx"] == 0, result
    assert (result["connect"], result["read"], result["write"], result["timeout"]) == (0, 0, 0, 0)
    time.sleep(1.5)  # nginx writes its access log within a second
    log = (tls_svc.base / "log" / "access.log").read_text()
    assert re.findall(r'" 5\d\d ', log) == []
