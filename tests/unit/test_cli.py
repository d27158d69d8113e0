"""The ``gateway`` console script."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gateway import cli
from gateway.cli import main
from tests.support.settings import make_settings, production

SCRIPT = Path(sys.executable).parent / "gateway"


def test_routes_lists_every_route_with_its_public_path(
    runner: CliRunner, settings: dict[str, Any]
) -> None:
    result = runner.invoke(main, ["routes"], obj=settings)
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()]
    assert rows[0] == ["PATH", "METHODS", "ENDPOINT", "APP"]
    table = {(r[0], r[1]): r[2] for r in rows[1:]}
    assert table[("/backend/api/extensions", "GET")] == "api.extensions"
    assert table[("/backend/api/extensions", "POST")] == "api.create_extension"
    assert table[("/backend/api/extensions/<slug>", "DELETE")] == "api.delete_extension"
    assert table[("/backend/static/<path:filename>", "GET")] == "static"
    assert table[("/extensions/<slug>", "GET")] == "pages.extension"
    assert table[("/_gateway/health", "GET")] == "gateway.health"


def test_mounts_prints_the_table(runner: CliRunner, settings: dict[str, Any]) -> None:
    result = runner.invoke(main, ["mounts"], obj=settings)
    assert result.exit_code == 0
    rows = [line.split() for line in result.output.splitlines()]
    assert rows[:-1] == [
        ["PREFIX", "APP", "PROFILE", "NAMESPACE"],
        ["/", "frontend_app", "testing", "frontend"],
        ["/backend", "backend_app", "testing", "backend"],
    ]
    database = Path(settings["GATEWAY_DATA_DIR"]) / "backend_app" / "catalog.sqlite3"
    assert rows[-1] == ["database:", f"sqlite:///{database}"]


def test_check_passes_a_valid_production_profile(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["check", "--profile", "production"], obj=production(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: production profile")


def test_check_fails_with_one_line_per_problem(runner: CliRunner, tmp_path: Path) -> None:
    settings = production(tmp_path, GATEWAY_DEBUG="true", BACKEND_API_TOKEN=None)
    result = runner.invoke(main, ["check", "--profile", "production"], obj=settings)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "error: FRONTEND: DEBUG is on" in lines
    assert "error: BACKEND: DEBUG is on" in lines
    assert "error: BACKEND: BACKEND_API_TOKEN is missing" in lines


def test_check_turns_a_testing_source_into_production(runner: CliRunner, tmp_path: Path) -> None:
    # The testing source has no TRUSTED_HOSTS override: production refuses that.
    settings = make_settings(tmp_path, GATEWAY_TRUSTED_HOSTS="")
    assert runner.invoke(main, ["check"], obj=settings).exit_code == 0
    result = runner.invoke(main, ["check", "--profile", "production"], obj=settings)
    assert result.exit_code == 1 and "TRUSTED_HOSTS is unset" in result.output


def test_check_reports_a_release_that_does_not_build(runner: CliRunner, tmp_path: Path) -> None:
    rows = (
        '[{"prefix": "", "app": "frontend_app", "namespace": "f"},'
        ' {"prefix": "/x", "app": "no_such_app", "namespace": "x"}]'
    )
    result = runner.invoke(main, ["check"], obj=make_settings(tmp_path, GATEWAY_MOUNTS=rows))
    assert result.exit_code == 1
    assert "does not build: ModuleNotFoundError" in result.output


def test_console_script_reads_the_environment(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GATEWAY_DATA_DIR": str(tmp_path),
        "GATEWAY_PROFILE": "production",
    }
    failed = subprocess.run([SCRIPT, "check"], env=env, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1
    assert "error: BACKEND: BACKEND_API_TOKEN is missing" in failed.stderr.splitlines()

    # `gateway secrets` generates what production needs; production never migrates as it
    # builds, so the check says what to run, and passes once it ran.
    made = subprocess.run([SCRIPT, "secrets"], env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0 and made.stdout.strip() == str(tmp_path / "secrets.json")
    env["GATEWAY_TRUSTED_HOSTS"] = "localhost"
    behind = subprocess.run([SCRIPT, "check"], env=env, capture_output=True, text=True, timeout=60)
    assert behind.returncode == 1
    assert "run `gateway db upgrade`" in behind.stderr.splitlines()[-1]
    for args in (["db", "upgrade"], ["check"]):
        passed = subprocess.run(
            [SCRIPT, *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert passed.returncode == 0, passed.stderr


def test_cache_stats_reports_a_gateway_that_does_not_answer(runner: CliRunner) -> None:
    # Nothing listens on loopback port 9.
    result = runner.invoke(main, ["cache-stats", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "http://127.0.0.1:9 does not answer" in result.output


# -- a fresh checkout: no secrets, an empty data dir ------------------------------------


def fresh(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``gateway ARGS`` with a clean environment and an empty data dir."""
    data = tmp_path / "fresh-data"
    environ = {"PATH": os.environ.get("PATH", ""), "GATEWAY_DATA_DIR": str(data), **env}
    return subprocess.run([SCRIPT, *args], env=environ, capture_output=True, text=True, timeout=60)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["routes"], "/backend/api/extensions"),
        (["mounts"], "/backend  backend_app   development  backend"),
        (["check"], "ok: development profile"),
        (["secrets"], "secrets.json"),
    ],
    ids=["routes", "mounts", "check", "secrets"],
)
def test_development_commands_work_on_a_fresh_checkout(
    tmp_path: Path, args: list[str], expect: str
) -> None:
    assert not (tmp_path / "fresh-data").exists()
    result = fresh(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert expect in result.stdout
    assert "Traceback" not in result.stderr
    # The secrets they generated are the data dir's own, private.
    secrets = tmp_path / "fresh-data" / "secrets.json"
    assert secrets.stat().st_mode & 0o777 == 0o600


def test_routes_on_a_fresh_checkout_lists_the_toolbar_under_both_mounts(tmp_path: Path) -> None:
    # The development gateway as `make dev` serves it, toolbar included.
    paths = [line.split()[0] for line in fresh(tmp_path, "routes").stdout.splitlines()[1:]]
    assert "/_debug_toolbar/static/<path:filename>" in paths
    assert "/backend/_debug_toolbar/static/<path:filename>" in paths


def test_cache_stats_on_a_fresh_checkout_says_nothing_answers(tmp_path: Path) -> None:
    port = closed_port()
    result = fresh(tmp_path, "cache-stats", GATEWAY_PORT=str(port))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: http://127.0.0.1:{port} does not answer: "
        "<urlopen error [Errno 111] Connection refused>"
    ]


@pytest.mark.parametrize("args", [["routes"], ["mounts"], ["check"], ["run", "--port", "9"]])
def test_production_commands_say_what_to_run_first(tmp_path: Path, args: list[str]) -> None:
    result = fresh(tmp_path, *args, GATEWAY_PROFILE="production")
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith(("error: ", "hint: ")) for line in lines), lines
    assert "error: FRONTEND: TRUSTED_HOSTS is unset (GATEWAY_TRUSTED_HOSTS)" in lines
    if args[0] == "run":  # the dev server generates the secrets first, as before
        assert not [line for line in lines if "is missing" in line]
    else:  # nothing is invented in production: it says which command makes them
        assert "error: FRONTEND: FRONTEND_SECRET_KEY is missing" in lines
        hint = f"hint: `gateway secrets` generates the missing ones into {tmp_path}"
        assert lines[-1] == f"{hint}/fresh-data/secrets.json"
        assert not (tmp_path / "fresh-data" / "secrets.json").exists()


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"GATEWAY_PROFILE": "staging"}, "error: unknown profile 'staging'"),
        ({"GATEWAY_DATA_DIR": "/proc/no-such-dir"}, "error: FileNotFoundError: "),
        ({"GATEWAY_CACHE_URL": "memcache://x"}, "error: GATEWAY_CACHE_URL 'memcache://x'"),
        ({"GATEWAY_MOUNTS": "not json"}, "error: GATEWAY_MOUNTS is not a list of mount objects"),
        ({"GATEWAY_RESPONSE_CACHE_TIMEOUT": "abc"}, "error: RESPONSE_CACHE_TIMEOUT is 'abc'"),
    ],
    ids=["profile", "data-dir", "cache-url", "mounts", "cache-timeout"],
)
def test_bad_settings_are_one_line_not_a_traceback(
    tmp_path: Path, env: dict[str, str], line: str
) -> None:
    result = fresh(tmp_path, "mounts", **env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(line) and len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"GATEWAY_PROFILE": "staging"}, "error: unknown profile 'staging'"),
        ({"GATEWAY_MOUNTS": "not json"}, "error: GATEWAY_MOUNTS is not a list of mount objects"),
        ({"GATEWAY_RESPONSE_CACHE_TIMEOUT": "0"}, "error: RESPONSE_CACHE_TIMEOUT is 0"),
    ],
)
def test_nginx_values_refuses_bad_settings_in_one_line(
    tmp_path: Path, env: dict[str, str], line: str
) -> None:
    result = fresh(tmp_path, "nginx-values", **env)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(line) and len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize(("timeout", "digits"), [("300", "1"), ("60", "0"), ("3600", "2")])
def test_nginx_values_follow_the_response_cache_timeout(
    tmp_path: Path, timeout: str, digits: str
) -> None:
    result = fresh(tmp_path, "nginx-values", GATEWAY_RESPONSE_CACHE_TIMEOUT=timeout)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        f"S_MAXAGE={timeout}",
        f"SLOT_DIGITS={digits}",
        "METRICS_ALLOW=",
    ]


def test_nginx_values_follow_the_mount_table(tmp_path: Path) -> None:
    rows = '[{"prefix": "", "app": "frontend_app", "namespace": "site"},'
    rows += ' {"prefix": "/api/v2", "app": "backend_app", "namespace": "api"}]'
    result = fresh(tmp_path, "nginx-values", "--home", "/srv/code", GATEWAY_MOUNTS=rows)
    assert result.returncode == 0, result.stderr
    values = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert values["MOUNT_NAMESPACES"] == '"~^/api/v2(/|$)" api; default site;'
    assert (
        "location ^~ /api/v2/static/ { alias /srv/code/backend_app/static/;"
        in (values["STATIC_LOCATIONS"])
    )
    assert "^/backend" not in result.stdout


def test_render_fills_a_template_and_refuses_a_placeholder_left(tmp_path: Path) -> None:
    template = tmp_path / "site.conf"
    template.write_text("listen @LISTEN@; root @HOME@;\n")
    dest = tmp_path / "out.conf"
    done = fresh(tmp_path, "render", str(template), str(dest), "LISTEN=80", "HOME=/a=b")
    assert done.returncode == 0, done.stderr
    assert dest.read_text() == "listen 80; root /a=b;\n"

    refused = fresh(tmp_path, "render", str(template), str(tmp_path / "no.conf"), "LISTEN=80")
    assert refused.returncode == 1 and refused.stderr == "error: render: no value for @HOME@\n"
    assert not (tmp_path / "no.conf").exists()


def test_cache_stats_of_something_that_is_not_a_gateway(runner: CliRunner, tmp_path: Path) -> None:
    # A plain HTTP server on loopback that answers every path with an HTML page.
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            body = b"<html>not a gateway</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        result = runner.invoke(main, ["cache-stats", "--url", url])
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {url} is not a gateway's health answer")


@pytest.mark.parametrize(
    ("args", "server_name"),
    [
        (["run", "--port", "5123"], "127.0.0.1:5123"),
        (["run", "--host", "0.0.0.0", "--port", "8001"], "127.0.0.1:8001"),
        (["run", "--host", "::1", "--port", "8002"], "[::1]:8002"),
    ],
)
def test_run_serves_the_development_gateway_where_it_listens(
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    server_name: str,
) -> None:
    served: dict[str, Any] = {}

    def fake_run_simple(host: str, port: int, app: Any, **options: Any) -> None:
        served.update(host=host, port=port, app=app, **options)

    monkeypatch.setattr(cli, "run_simple", fake_run_simple)
    # A fresh data dir and no secrets: `run` generates them, as `make dev` always did.
    settings = {"GATEWAY_PROFILE": "development", "GATEWAY_DATA_DIR": str(tmp_path / "d")}
    result = runner.invoke(main, args, obj=settings)
    assert result.exit_code == 0, result.output
    assert served["use_debugger"] is True and served["use_reloader"] is True
    for app in served["app"].apps.values():
        assert app.config["SERVER_NAME"] == server_name
        assert "debugtoolbar" in app.blueprints
    assert (tmp_path / "d" / "secrets.json").exists()

    # An explicit GATEWAY_SERVER_NAME still wins.
    named = {**settings, "GATEWAY_SERVER_NAME": "dev.example:9000"}
    assert runner.invoke(main, args, obj=named).exit_code == 0
    assert served["app"].apps[""].config["SERVER_NAME"] == "dev.example:9000"
