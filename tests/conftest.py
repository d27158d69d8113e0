"""The fixture both suites share: one private PostgreSQL server per test session
(tests/support/postgres.py), for the catalogue's tests on PostgreSQL and the stacks
served on it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import Postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One private PostgreSQL server for the whole test run, stopped by PID at the end."""
    base = Path(tempfile.mkdtemp(prefix="gateway-pg-"))
    base.chmod(0o755)  # the server runs as the postgres user
    server = Postgres.start(base / "cluster")
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)
