"""HTTPS as the apps see it (gateway.tls, gateway.settings): the production check of the
certificate and key, Secure cookies with their prefixes, and https external URLs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from flask import url_for

from gateway.compose import build_gateway
from gateway.settings import ConfigError
from gateway.tls import secure_cookie_name, tls_problems
from tests.support.client import Client
from tests.support.http import HTML
from tests.support.settings import make_settings, migrate
from tests.support.tls_files import TlsFiles, make_tls_files


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def production(tmp_path: Path, files: TlsFiles, **overrides: Any) -> dict[str, Any]:
    migrate(tmp_path)  # production never migrates while it builds
    settings = make_settings(
        tmp_path,
        GATEWAY_PROFILE="production",
        GATEWAY_TRUSTED_HOSTS="localhost,127.0.0.1",
        GATEWAY_TLS_CERT=str(files.cert),
        GATEWAY_TLS_KEY=str(files.key),
    )
    settings.update(overrides)
    return {k: v for k, v in settings.items() if v is not None}


def test_a_matching_pair_passes(files: TlsFiles) -> None:
    assert tls_problems(str(files.cert), str(files.key)) == []
    assert tls_problems(None, None) == []


@pytest.mark.parametrize(
    ("which", "reason"),
    [
        ("mismatch", "the key does not match the certificate"),
        ("no-key", "GATEWAY_TLS_CERT is set but GATEWAY_TLS_KEY is not"),
        ("no-cert", "GATEWAY_TLS_KEY is set but GATEWAY_TLS_CERT is not"),
        ("missing", "does not exist"),
        ("not-pem", "GATEWAY_TLS_CERT"),
        ("a-directory", "GATEWAY_TLS_CERT"),
    ],
)
def test_production_refuses_tls_files_nginx_could_not_serve(
    tmp_path: Path, files: TlsFiles, which: str, reason: str
) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    cases: dict[str, dict[str, str | None]] = {
        "mismatch": {"GATEWAY_TLS_KEY": str(files.other_key)},
        "no-key": {"GATEWAY_TLS_KEY": None},
        "no-cert": {"GATEWAY_TLS_CERT": None},
        "missing": {"GATEWAY_TLS_CERT": str(tmp_path / "nowhere.pem")},
        "not-pem": {"GATEWAY_TLS_CERT": str(garbage)},
        "a-directory": {"GATEWAY_TLS_CERT": str(tmp_path)},
    }
    overrides = cases[which]
    with pytest.raises(ConfigError, match=reason):
        build_gateway(production(tmp_path, files, **overrides))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs another user than the test's: root only")
def test_a_certificate_the_app_user_cannot_read_is_refused_a_key_is_not(
    files: TlsFiles,
) -> None:
    # The service checks a release as its own user (www-data); nginx reads the key as
    # root, so a key kept from www-data is right, a certificate it cannot read is not.
    folder = Path(tempfile.mkdtemp(prefix="gateway-tls-"))  # pytest's tmp_path is private
    folder.chmod(0o755)
    probe = [
        "runuser", "-u", "www-data", "--", sys.executable, "-c",
        "import sys; from gateway.tls import tls_problems; "
        "print(tls_problems(sys.argv[1], sys.argv[2]))",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def check() -> str:
        found = subprocess.run(
            [*probe, str(cert), str(key)], env=env, text=True, capture_output=True, check=True
        )
        return found.stdout.strip()

    try:
        key, cert = folder / "private.key", folder / "public.pem"
        key.write_bytes(files.key.read_bytes())
        key.chmod(0o600)
        cert.write_bytes(files.cert.read_bytes())
        cert.chmod(0o644)
        assert check() == "[]"
        cert.chmod(0o600)
        refused = check()
    finally:
        shutil.rmtree(folder)
    assert "cannot read it" in refused and str(cert) in refused


def test_cookie_prefixes() -> None:
    assert secure_cookie_name("gateway_site_session", "/") == "__Host-gateway_site_session"
    assert secure_cookie_name("gateway_api_session", "/backend") == "__Secure-gateway_api_session"
    assert secure_cookie_name("__Host-x", "/") == "__Host-x"


def test_https_makes_cookies_secure_and_urls_https(tmp_path: Path, files: TlsFiles) -> None:
    gateway = build_gateway(production(tmp_path, files))
    site, api = gateway.apps[""], gateway.apps["/backend"]
    assert site.config["SESSION_COOKIE_NAME"] == "__Host-gateway_site_session"
    assert api.config["SESSION_COOKIE_NAME"] == "__Secure-gateway_api_session"
    with api.app_context():  # outside a request: the CLI, jobs
        assert url_for("api.index", _external=True).startswith("https://localhost/backend/")
    # A request as nginx passes it over HTTPS (HTTPS=on: uWSGI's wsgi.url_scheme).
    client = Client(gateway)
    https = {"wsgi.url_scheme": "https", "REMOTE_ADDR": "127.0.0.1"}
    star = client.post(
        "/stars/flask-login",
        data={"action": "star"},
        headers={**HTML, "Origin": "https://localhost"},
        base_url="https://localhost",
        environ_base=https,
    )
    cookie = star.headers["Set-Cookie"]
    assert star.status_code == 303 and cookie.startswith("__Host-gateway_site_session=")
    assert "Secure" in cookie and "Path=/;" in cookie and "Domain" not in cookie
    assert star.headers["Location"].startswith(("/", "https://"))


def test_without_tls_nothing_changes(tmp_path: Path) -> None:
    gateway = build_gateway(make_settings(tmp_path))
    site = gateway.apps[""]
    assert site.config["SESSION_COOKIE_NAME"] == "gateway_site_session"
    assert not site.config["SESSION_COOKIE_SECURE"]
    assert site.config["PREFERRED_URL_SCHEME"] == "http"
