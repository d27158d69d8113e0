"""The ``gateway`` console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from gateway.cli import main
from tests.conftest import make_settings
from tests.test_settings import production

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
    assert rows == [
        ["PREFIX", "APP", "PROFILE", "NAMESPACE"],
        ["/", "frontend_app", "testing", "frontend"],
        ["/backend", "backend_app", "testing", "backend"],
    ]


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

    # `gateway secrets` generates what production needs; the check then passes.
    made = subprocess.run([SCRIPT, "secrets"], env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0 and made.stdout.strip() == str(tmp_path / "secrets.json")
    env["GATEWAY_TRUSTED_HOSTS"] = "localhost"
    passed = subprocess.run([SCRIPT, "check"], env=env, capture_output=True, text=True, timeout=60)
    assert passed.returncode == 0, passed.stderr


def test_cache_stats_reports_a_gateway_that_does_not_answer(runner: CliRunner) -> None:
    # Nothing listens on loopback port 9.
    result = runner.invoke(main, ["cache-stats", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "http://127.0.0.1:9 does not answer" in result.output
