"""The catalogue's cost as it grows: uncached reads in-process at 1,000 and 100,000 rows.

    python -m bench.catalogue [sqlite|postgresql ...]   # prints JSON, one row per read

Each engine gets a fresh catalogue grown with generated extensions (straight into the
database, in one transaction, so the triggers keep counts and search index as the app's
writes would), then every read is driven through the composed WSGI callable with the
response cache off: what an uncached request costs the app, without sockets. The figure
per read is the median of ``CALLS`` calls; the results are the ratios 100k / 1k.

It also runs on a checkout of an older release (``BENCH_CATALOGUE_HOME``), so the
hand-written sqlite3 catalogue and this one are measured in one run on one machine.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES = tuple(int(n) for n in os.environ.get("BENCH_CATALOGUE_SIZES", "1000,100000").split(","))
CALLS = int(os.environ.get("BENCH_CATALOGUE_CALLS", "30"))
ROUNDS = 3
PER_PAGE = 20
WORDS = (
    "cache admin form upload mail queue task rest api json schema orm sql auth token"
    " session asset static debug test mock template babel locale search index graph"
).split()


def reads(size: int) -> dict[str, str]:
    """The reads measured, by name; the deep page is the API's last at that size."""
    last = size // PER_PAGE
    return {
        "site: home": "/",
        "site: category": "/category/orm",
        "site: search 'login'": "/search?q=login",
        "API: first list page": "/backend/api/extensions",
        "API: search 'login'": "/backend/api/extensions?q=login",
        f"API: page {last} (offset)": f"/backend/api/extensions?page={last}",
        "API: categories": "/backend/api/categories",
    }


def generated(count: int, categories: list[str], start: int) -> list[dict[str, str]]:
    """``count`` made-up extensions; none says "login", so a search finds the fixture's."""
    rng = random.Random(start)
    stamp = "2020-01-01T00:00:00Z"
    return [
        {
            "slug": f"gen-{n:06d}",
            "name": f"Flask-{rng.choice(WORDS).title()}{n:06d}",
            "category": rng.choice(categories),
            "summary": " ".join(rng.choice(WORDS) for _ in range(8)).capitalize() + ".",
            "homepage": f"https://example.org/gen-{n}",
            "created_at": stamp,
            "updated_at": stamp,
        }
        for n in range(start, start + count)
    ]


INSERT = (
    "INSERT INTO extensions (slug, name, category, summary, homepage, created_at, updated_at)"
    " VALUES ({0}slug{1}, {0}name{1}, {0}category{1}, {0}summary{1}, {0}homepage{1},"
    " {0}created_at{1}, {0}updated_at{1})"
)


def grow(url: str | None, data: Path, to: int) -> None:
    """Add generated rows until the catalogue holds ``to`` extensions."""
    if url is None:
        db = sqlite3.connect(data / "backend_app" / "catalog.sqlite3")
        have = db.execute("SELECT count(*) FROM extensions").fetchone()[0]
        categories = [row[0] for row in db.execute("SELECT slug FROM categories")]
        db.executemany(INSERT.format(":", ""), generated(to - have, categories, have))
        db.commit()
        db.execute("ANALYZE")
        db.close()
        return
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        have = conn.execute("SELECT count(*) FROM extensions").fetchone()[0]  # type: ignore[index]
        categories = [row[0] for row in conn.execute("SELECT slug FROM categories")]
        with conn.cursor() as cursor:
            cursor.executemany(INSERT.format("%(", ")s"), generated(to - have, categories, have))
        conn.commit()
        conn.autocommit = True
        # One transaction added every row, so every counter update left its old row
        # version in `categories` (written one at a time, they are pruned in place).
        conn.execute("VACUUM FULL categories")
        conn.execute("VACUUM ANALYZE")


def measure(urls: dict[int, str | None]) -> dict[str, dict[int, float]]:
    """ms per uncached read at each size, each size a catalogue of its own (``urls``:
    None for SQLite), the sizes measured in interleaved rounds."""
    from werkzeug.test import Client, EnvironBuilder

    from gateway.compose import build_gateway
    from tests.support.settings import make_settings
    from tests.support.wsgi import ignore_start_response

    base = Path(tempfile.mkdtemp(prefix="gateway-bench-catalogue-"))
    gateways, paths = {}, {}
    try:
        for size, url in urls.items():
            settings = make_settings(base / str(size), GATEWAY_RESPONSE_CACHE="false")
            if url:
                settings["GATEWAY_DATABASE_URL"] = url
            build_gateway(settings)  # creates and seeds the catalogue
            grow(url, base / str(size), size)
            gateways[size] = build_gateway(settings)  # fresh pools after the growth
            paths[size] = reads(size)
            before_last = Client(gateways[size]).get(
                f"/backend/api/extensions?page={size // PER_PAGE - 1}"
            )
            cursor = (before_last.json or {}).get("next_cursor")
            if cursor:  # a release without cursors has no such row
                paths[size]["API: last page (cursor)"] = f"/backend/api/extensions?after={cursor}"
        found: dict[str, dict[int, list[float]]] = {}
        for _ in range(ROUNDS):
            for size, gateway in gateways.items():
                client = Client(gateway)
                for name, path in paths[size].items():
                    label = name.replace(f"page {size // PER_PAGE} ", "last page ")
                    environ = EnvironBuilder(path=path, base_url="http://localhost").get_environ()
                    assert client.get(path).status_code == 200, path
                    for _ in range(CALLS):
                        start = time.perf_counter()
                        body = gateway(dict(environ), ignore_start_response)
                        b"".join(body)
                        getattr(body, "close", lambda: None)()
                        elapsed = (time.perf_counter() - start) * 1000
                        found.setdefault(label, {}).setdefault(size, []).append(elapsed)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return {
        name: {size: statistics.median(times) for size, times in sizes.items()}
        for name, sizes in found.items()
    }


def main(engines: list[str], sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    """Measure each engine; PostgreSQL runs on a private server started here."""
    results: dict[str, Any] = {}
    for engine in engines:
        if engine == "sqlite":
            results[engine] = measure(dict.fromkeys(sizes))
            continue
        from tests.support.postgres import Postgres

        base = Path(tempfile.mkdtemp(prefix="gateway-bench-pg-"))
        base.chmod(0o755)
        server = Postgres.start(base / "pg")
        try:
            results[engine] = measure(
                {size: server.create_database(f"bench_{size}") for size in sizes}
            )
        finally:
            server.stop()
            shutil.rmtree(base, ignore_errors=True)
    return results


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:] or ["sqlite", "postgresql"]), indent=1))
