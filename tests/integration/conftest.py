"""Fixtures that run the real stack on loopback (nginx -> uWSGI -> gateway), and the hooks
that mark every test here `integration` and report what the operations tests measured.

Everything started here is stopped here, by PID. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.support.chromium import Browser, start_chromium
from tests.support.load import MEASURED
from tests.support.postgres import Postgres
from tests.support.stack import (
    ARTIFACTS,
    DevServer,
    Runner,
    start_dev_server,
    start_runner,
    stop_dev_server,
    stop_runner,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark everything here `integration`: `pytest -m "not integration"` is the quick loop."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The measured figures (tests/support/load.py), printed and, when
    GATEWAY_MEASUREMENTS names a file, written there as JSON."""
    if not MEASURED:
        return
    terminalreporter.section("measured")
    for name, value in MEASURED.items():
        terminalreporter.write_line(f"{name}: {json.dumps(value)}")
    target = os.environ.get("GATEWAY_MEASUREMENTS")
    if target:
        Path(target).write_text(json.dumps(MEASURED, indent=2))


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
    """One headless Chromium per module (tests/support/chromium.py)."""
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
