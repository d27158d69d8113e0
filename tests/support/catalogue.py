"""The catalogue as the in-process tests handle it: a new extension, closed pools, a
corrupted file."""

from __future__ import annotations

from pathlib import Path

from gateway.compose import Gateway
from gateway.extensions import db


def extension(slug: str = "flask-example", **fields: str) -> dict[str, str]:
    """A valid new extension."""
    return {
        "slug": slug,
        "name": fields.pop("name", "Flask-Example"),
        "category": "testing",
        "summary": "An extension made up by the tests.",
        "homepage": "https://example.org/flask-example",
        **fields,
    }


def dispose(gateway: Gateway) -> None:
    """Close every pooled connection of ``gateway``'s apps (a worker that restarts)."""
    for app in gateway.apps.values():
        with app.app_context():
            db.engine.dispose()


def corrupt_catalogue(gateway: Gateway, data_dir: Path) -> None:
    """A real fault: the SQLite file is overwritten with garbage under the running apps
    (their pooled connections closed, as a worker's are when it restarts)."""
    dispose(gateway)
    (data_dir / "backend_app" / "catalog.sqlite3").write_bytes(b"not a database" * 1000)
    for suffix in ("-wal", "-shm"):
        (data_dir / "backend_app" / f"catalog.sqlite3{suffix}").unlink(missing_ok=True)
