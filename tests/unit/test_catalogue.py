"""The catalogue on both engines: migrations, adoption of an older database, reads that
stay one query, substring search, cursors, triggers' counts, the read-only site, races,
and a database that does not answer."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import event, text

from backend_app import catalogue
from backend_app.catalogue import schema
from gateway.cli import main
from gateway.compose import Gateway, build_gateway
from gateway.extensions import db
from gateway.factory import create_app
from tests.support.catalogue import dispose, extension
from tests.support.client import Client
from tests.support.http import HTML
from tests.support.settings import AUTH, TOKEN, make_settings, migrate

# The schema the release before migrations created at every start (its store.py).
LEGACY_SCHEMA = """
CREATE TABLE IF NOT EXISTS categories (
    slug TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS extensions (
    id INTEGER PRIMARY KEY, slug TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    category TEXT NOT NULL REFERENCES categories (slug), summary TEXT NOT NULL,
    homepage TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS extensions_category ON extensions (category);
CREATE INDEX IF NOT EXISTS extensions_updated ON extensions (updated_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sign_ins (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
"""


@pytest.fixture
def database_url(any_database: str | None) -> str | None:
    """Every test of this module that uses the ``settings`` fixture runs on both engines."""
    return any_database


def backend(gateway: Gateway) -> Flask:
    return gateway.apps["/backend"]


def add_many(gateway: Gateway, count: int, category: str = "testing", start: int = 0) -> None:
    """``count`` more extensions, straight through the catalogue's write path."""
    with backend(gateway).app_context():
        for n in range(start, start + count):
            catalogue.create_extension(
                extension(f"bulk-{n:05d}", name=f"Bulk {n:05d}", category=category)
            )


# -- schema -------------------------------------------------------------------------


def test_a_new_database_is_at_the_newest_revision_and_seeded(gateway: Gateway) -> None:
    with backend(gateway).app_context():
        state = schema.state()
        assert (state.status, state.revision) == ("current", schema.chain()[-1])
        assert len(catalogue.list_extensions(per_page=100)[0]) >= 40
        # Upgrading again changes nothing and seeds nothing twice.
        before = catalogue.list_extensions(per_page=100)
        assert schema.upgrade().seeded is False
        assert catalogue.list_extensions(per_page=100) == before


def test_a_catalogue_of_the_release_before_migrations_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "backend_app" / "catalog.sqlite3"
    path.parent.mkdir()
    legacy = sqlite3.connect(path)
    legacy.executescript(LEGACY_SCHEMA)
    legacy.execute("PRAGMA journal_mode = WAL")
    legacy.execute("INSERT INTO categories VALUES ('orm', 'ORM', 'Databases.')")
    legacy.execute("INSERT INTO categories VALUES ('testing', 'Testing', 'Tests.')")
    rows = [
        (n, f"old-{n}", f"Old-Login {n}", "orm", "Kept across the upgrade.", "https://x.org/")
        for n in range(1, 6)
    ]
    legacy.executemany(
        "INSERT INTO extensions VALUES (?, ?, ?, ?, ?, ?, '2020-01-01T00:00:00Z',"
        " '2020-01-01T00:00:00Z')",
        rows,
    )
    legacy.execute("INSERT INTO meta VALUES ('seeded', '2020-01-01T00:00:00Z')")
    legacy.execute("INSERT INTO sign_ins VALUES ('still-signed-in', 4102444800)")
    legacy.commit()
    legacy.close()

    result = CliRunner().invoke(main, ["db", "upgrade"], obj=make_settings(tmp_path))
    assert result.exit_code == 0, result.output
    assert "upgraded from nothing to" in result.output
    assert "seeded" not in result.output  # the old catalogue was seeded already

    client = Client(build_gateway(make_settings(tmp_path)))
    listing = client.get("/backend/api/extensions").json
    assert [item["slug"] for item in listing["items"]] == [f"old-{n}" for n in range(1, 6)]
    assert listing["items"][0]["created_at"] == "2020-01-01T00:00:00Z"
    counts = {c["slug"]: c["count"] for c in client.get("/backend/api/categories").json["items"]}
    assert counts == {"orm": 5, "testing": 0}
    # The new search index covers the old rows.
    assert client.get("/backend/api/extensions?q=ld-log").json["total"] == 5
    with build_gateway(make_settings(tmp_path)).apps["/backend"].app_context():
        assert catalogue.sign_in_valid("still-signed-in")


def test_a_database_ahead_of_this_release_is_left_alone(gateway: Gateway) -> None:
    with backend(gateway).app_context():
        head = schema.chain()[-1]
        # A later release migrated to "9999" (and recorded the chain it went through).
        with catalogue.writes.transaction() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
            connection.execute(
                text("UPDATE meta SET value = :chain WHERE key = 'schema_revisions'"),
                {"chain": json.dumps([*schema.chain(), "9999"])},
            )
        state = schema.state()
        assert (state.status, state.revision, state.head) == ("ahead", "9999", head)
        assert schema.upgrade().before.status == "ahead"
        assert schema.state().revision == "9999"
        # A database at a revision this release never led to is refused.
        with catalogue.writes.transaction() as connection:
            connection.execute(text("DELETE FROM meta WHERE key = 'schema_revisions'"))
        assert schema.state().status == "foreign"
        with pytest.raises(schema.SchemaError, match="does not know"):
            schema.upgrade()


def test_a_failing_migration_changes_nothing(tmp_path: Path, monkeypatch: Any) -> None:
    # A release whose newest migration fails half-way: nothing of it stays.
    migrations = tmp_path / "migrations"
    (migrations / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako", "alembic.ini"):
        (migrations / name).write_text((schema.MIGRATIONS / name).read_text())
    for path in (schema.MIGRATIONS / "versions").glob("*.py"):
        (migrations / "versions" / path.name).write_text(path.read_text())
    (migrations / "versions" / "9000_broken.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n"
        "revision = '9000'\ndown_revision = '0002'\nbranch_labels = None\ndepends_on = None\n"
        "def upgrade():\n"
        "    op.add_column('extensions', sa.Column('licence', sa.Text(), nullable=True))\n"
        "    op.execute('SELECT * FROM no_such_table')\n"
        "def downgrade():\n    pass\n"
    )
    data = tmp_path / "data"
    create_app("backend_app", make_settings(data))  # at 0002, seeded
    monkeypatch.setattr(schema, "MIGRATIONS", migrations)
    result = CliRunner().invoke(main, ["db", "upgrade"], obj=make_settings(data))
    assert result.exit_code == 1 and "no_such_table" in result.output, result.output
    assert "Traceback" not in result.output
    columns = sqlite3.connect(data / "backend_app" / "catalog.sqlite3").execute(
        "SELECT name FROM pragma_table_info('extensions')"
    )
    assert "licence" not in {row[0] for row in columns}
    version = sqlite3.connect(data / "backend_app" / "catalog.sqlite3").execute(
        "SELECT version_num FROM alembic_version"
    )
    assert version.fetchone()[0] == "0002"


# -- reads --------------------------------------------------------------------------


def count_queries(app: Flask) -> list[str]:
    """Every statement ``app``'s engine runs from now on."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith(("BEGIN", "PRAGMA")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    return seen


PAGES = [
    "/",
    "/category/testing",
    "/search?q=bulk",
    "/extensions/bulk-00001",
    "/backend/api/extensions",
    "/backend/api/extensions?category=testing&q=bulk",
    "/backend/api/categories",
    "/backend/api/extensions/bulk-00001",
]


@pytest.mark.parametrize("path", PAGES)
def test_queries_per_page_do_not_grow_with_the_catalogue(gateway: Gateway, path: str) -> None:
    client = Client(gateway)
    add_many(gateway, 25)  # more than a page of each listing, so each counts its total
    # A session cookie of each app: the shared response cache stays out of the way.
    client.set_cookie("gateway_site_session", "x")
    client.set_cookie("gateway_api_session", "x", path="/backend")
    site, api = count_queries(gateway.apps[""]), count_queries(backend(gateway))
    for headers in ({}, HTML):
        assert client.get(path, headers=headers).status_code == 200
    few = len(site) + len(api)
    add_many(gateway, 40, start=25)
    site.clear()
    api.clear()
    for headers in ({}, HTML):
        assert client.get(path, headers=headers).status_code == 200
    assert len(site) + len(api) == few, site + api
    assert few <= 8  # at most two queries per answer and format, whatever the page


def test_search_is_a_substring_search_in_any_case(client: Client) -> None:
    def slugs(q: str) -> set[str]:
        response = client.get("/backend/api/extensions", query_string={"q": q, "per_page": 100})
        assert response.status_code == 200, q
        return {item["slug"] for item in response.json["items"]}

    everything = client.get("/backend/api/extensions?per_page=100").json["items"]
    assert "flask-login" in slugs("login")
    assert "flask-login" in slugs("LOGIN")
    assert "flask-login" in slugs("sk-lo")  # inside the slug
    # Wildcards, quotes and query syntax are text: found where the text is, nowhere else.
    for q in ("lo", "%", "_", '"', "'", "*", "\\", 'login" OR "x', "NEAR(a b)", "a%b", "--", "-"):
        expected = {
            e["slug"]
            for e in everything
            if any(q.lower() in e[field].lower() for field in ("name", "summary", "slug"))
        }
        assert slugs(q) == expected, q


def test_cursor_walks_the_whole_list_in_page_order(gateway: Gateway, client: Client) -> None:
    add_many(gateway, 25)
    by_page: list[str] = []
    page = 1
    while True:
        listing = client.get(f"/backend/api/extensions?per_page=7&page={page}").json
        by_page += [item["slug"] for item in listing["items"]]
        if listing["links"]["next"] is None:
            break
        page += 1
    walked: list[str] = []
    url = "/backend/api/extensions?per_page=7"
    while url:
        listing = client.get(url).json
        walked += [item["slug"] for item in listing["items"]]
        url = listing["links"]["after"]
    assert walked == by_page and len(walked) == listing["total"] == len(set(walked))


@pytest.mark.parametrize(
    "cursor",
    ["x", "", "%%%", "W10", "WyJhIl0", "WyJhIiwxXQ", "é", "A" * 5000, "WyJhAA", "bnVsbA"],
)
def test_a_cursor_the_api_did_not_give_is_a_400(client: Client, cursor: str) -> None:
    response = client.get("/backend/api/extensions", query_string={"after": cursor})
    assert response.status_code == 400, response.json
    assert "cursor" in response.json["error"]["message"]


def test_counts_follow_every_write(client: Client) -> None:
    def counts() -> dict[str, int]:
        items = client.get("/backend/api/categories").json["items"]
        return {c["slug"]: c["count"] for c in items}

    before = counts()
    total = client.get("/backend/api/extensions").json["total"]
    assert sum(before.values()) == total
    client.post("/backend/api/extensions", json=extension(), headers=AUTH)
    client.patch("/backend/api/extensions/flask-example", json={"category": "orm"}, headers=AUTH)
    moved = counts()
    assert moved["orm"] == before["orm"] + 1 and moved["testing"] == before["testing"]
    client.patch("/backend/api/extensions/flask-example", json={"name": "X"}, headers=AUTH)
    assert counts() == moved
    client.delete("/backend/api/extensions/flask-example", headers=AUTH)
    assert counts() == before
    assert client.get("/backend/api/extensions?category=orm").json["total"] == before["orm"]


def test_the_site_cannot_write(gateway: Gateway) -> None:
    with gateway.apps[""].app_context():
        assert catalogue.get_extension("flask-login") is not None
        with pytest.raises(Exception, match="(?i)read-only|readonly"):
            catalogue.delete_extension("flask-login")
    with backend(gateway).app_context():
        assert catalogue.get_extension("flask-login") is not None


# -- writes -------------------------------------------------------------------------


def test_a_duplicate_slug_race_gives_one_201_and_409s(gateway: Gateway) -> None:
    results: list[int] = []
    start = threading.Barrier(6)

    def create() -> None:
        client = Client(gateway)
        start.wait()
        response = client.post("/backend/api/extensions", json=extension("raced"), headers=AUTH)
        results.append(response.status_code)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [201, 409, 409, 409, 409, 409]


HOSTILE = [
    "nul\x00inside",
    "x" * 10_000,
    "Ω≈ç√∫ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ‮right-to-left‬ \u200b",
    "'; DROP TABLE extensions; --",
    'Robert"); DELETE FROM categories; --',
    "%_\\*[]^$",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_fields_are_4xx_or_stored_as_given(client: Client, value: str) -> None:
    before = client.get("/backend/api/extensions?per_page=100").json["total"]
    for field in ("slug", "name", "category", "summary", "homepage"):
        body = extension(f"hostile-{field}")
        body[field] = value
        response = client.post("/backend/api/extensions", json=body, headers=AUTH)
        assert response.status_code in (201, 422), (field, response.status_code)
        if response.status_code == 201:
            stored = client.get(f"/backend/api/extensions/hostile-{field}").json
            assert stored[field] == value.strip()
            assert client.delete(f"/backend/api/extensions/hostile-{field}", headers=AUTH)
        for q in (value, value[:100]):
            listed = client.get("/backend/api/extensions", query_string={"q": q})
            assert listed.status_code in (200, 400)
            assert client.get("/search", query_string={"q": q}).status_code in (200, 400)
    assert client.get("/backend/api/extensions?per_page=100").json["total"] == before
    assert client.get("/backend/api/categories").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/extensions/%00",
        "/category/a%00b",
        "/search?q=%00",
        "/backend/api/extensions/%00",
        "/backend/api/extensions?category=%00&q=x%00",
        "/backend/api/extensions?q=%F0%9F%A6%84%E2%80%AE",
        "/backend/api/extensions?q=%27%3B%20DROP%20TABLE%20extensions%3B--",
        "/backend/api/extensions?category=%27%20OR%201%3D1--",
        "/backend/api/extensions?page=99999&per_page=100",
        "/backend/api/extensions?page=18446744073709551616",
        "/backend/api/extensions?per_page=-1",
    ],
)
def test_odd_input_in_urls_is_never_a_5xx(client: Client, path: str) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = client.open(path, method=method, json={"name": "x"}, headers=AUTH)
        assert response.status_code < 500, (method, response.status_code)
    assert client.get("/backend/api/extensions").json["total"] >= 40


# -- the database does not answer --------------------------------------------------


def test_an_unreachable_database_is_a_503_with_retry_after(tmp_path: Path) -> None:
    # Nothing listens on port 9 of loopback: every connection is refused at once.
    url = "postgresql+psycopg://gateway:hunter2@127.0.0.1:9/gateway"
    settings = make_settings(tmp_path, GATEWAY_DATABASE_URL=url, GATEWAY_DB_AUTO_UPGRADE="false")
    client = Client(build_gateway(settings))
    api = client.get("/backend/api/extensions")
    assert api.status_code == 503 and api.headers["Retry-After"] == "5"
    assert api.json["error"]["status"] == 503
    site = client.get("/", headers=HTML, environ_base={"HTTP_COOKIE": "gateway_site_session=x"})
    assert site.status_code == 503 and site.mimetype == "text/html"
    assert site.headers["Retry-After"] == "5"
    write = client.post("/backend/api/extensions", json=extension(), headers=AUTH)
    assert write.status_code == 503
    health = client.get("/_gateway/health")
    assert health.status_code == 503
    assert health.json["database"]["status"] != "ok"
    assert health.json["database"]["url"] == "postgresql+psycopg://gateway:***@127.0.0.1:9/gateway"
    assert "hunter2" not in health.get_data(as_text=True)


def test_gateway_check_says_in_one_line_that_the_database_does_not_answer(
    tmp_path: Path,
) -> None:
    url = "postgresql+psycopg://gateway:hunter2@127.0.0.1:9/gateway"
    for profile in ("development", "production"):
        settings = make_settings(
            tmp_path,
            GATEWAY_PROFILE=profile,
            GATEWAY_DATABASE_URL=url,
            GATEWAY_TRUSTED_HOSTS="localhost",
        )
        for command in (["check"], ["db", "upgrade"], ["db", "current"]):
            result = CliRunner().invoke(main, command, obj=settings)
            assert result.exit_code == 1, (command, result.output)
            lines = [line for line in result.output.splitlines() if "alembic" not in line]
            assert len(lines) == 1 and "does not answer" in lines[0], lines
            assert "hunter2" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "url",
    ["not a url hunter2", "mysql://u:hunter2@localhost/x", "postgresql+psycopg://u:hunter2@h"],
)
def test_a_bad_database_url_is_refused_in_one_line(tmp_path: Path, url: str) -> None:
    settings = make_settings(tmp_path, GATEWAY_DATABASE_URL=url)
    result = CliRunner().invoke(main, ["check"], obj=settings)
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "GATEWAY_DATABASE_URL" in result.output and "hunter2" not in result.output


@pytest.mark.integration
def test_the_password_never_shows(postgres_url: str, tmp_path: Path) -> None:
    password = postgres_url.split(":")[2].split("@")[0]
    settings = make_settings(tmp_path, GATEWAY_DATABASE_URL=postgres_url)
    for command in (["mounts"], ["check"], ["db", "current"], ["db", "upgrade"]):
        result = CliRunner().invoke(main, command, obj=settings)
        assert result.exit_code == 0, result.output
        assert password not in result.output
        if command != ["check"]:
            assert ":***@" in result.output
    gateway = build_gateway(settings)
    assert password not in Client(gateway).get("/_gateway/health").get_data(as_text=True)
    for app in gateway.apps.values():
        assert password not in repr(dict(app.config))
    dispose(gateway)


def test_nodes_sharing_a_database_compare_their_secrets(tmp_path: Path) -> None:
    shared = make_settings(tmp_path / "a")
    mine = build_gateway({**shared, "GATEWAY_NODE_NAME": "node-a"})
    assert Client(mine).get("/_gateway/health").json["secrets"]["status"] == "alone"
    same = {**shared, "GATEWAY_NODE_NAME": "node-b"}
    assert Client(build_gateway(same)).get("/_gateway/health").json["secrets"] == {
        "node": "node-b",
        "status": "same",
        "differ": {},
    }
    rotated = {**shared, "GATEWAY_NODE_NAME": "node-c", "BACKEND_API_TOKEN": "r" * 43}
    report = Client(build_gateway(rotated)).get("/_gateway/health")
    assert report.status_code == 200  # shown, not failed on: a rotation passes through
    assert report.json["secrets"]["differ"] == {
        "node-a": ["BACKEND_API_TOKEN"],
        "node-b": ["BACKEND_API_TOKEN"],
    }
    result = CliRunner().invoke(main, ["check"], obj=rotated)
    assert result.exit_code == 0
    assert "warning: BACKEND_API_TOKEN of this node differ from node node-a's" in result.output
    assert TOKEN not in result.output and "r" * 43 not in result.output


def test_a_production_worker_never_imports_alembic(tmp_path: Path) -> None:
    # Workers never migrate; Alembic (~11 MB a process) stays out of them.
    migrate(tmp_path)
    settings = {
        **make_settings(tmp_path, GATEWAY_PROFILE="production", GATEWAY_TRUSTED_HOSTS="localhost"),
    }
    code = (
        "import json, sys; from gateway.compose import build_gateway; "
        "build_gateway(json.loads(sys.argv[1])); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'flask_migrate')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(settings)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_flask_migrate_commands_work_on_the_api(tmp_path: Path) -> None:
    env = {**os.environ, **make_settings(tmp_path), "FLASK_APP": "gateway.cli:catalogue_app"}
    flask = Path(sys.executable).parent / "flask"
    for args, expected in ((["db", "current"], "0002 (head)"), (["db", "history"], "-> 0002")):
        done = subprocess.run([flask, *args], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and expected in done.stdout, done.stdout + done.stderr


def test_the_catalogue_file_is_in_wal_mode(tmp_path: Path) -> None:
    gateway = build_gateway(make_settings(tmp_path))
    path = tmp_path / "backend_app" / "catalog.sqlite3"
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with backend(gateway).app_context():
        pragmas = {
            name: db.session.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("foreign_keys", "synchronous", "busy_timeout")
        }
    assert pragmas == {"foreign_keys": 1, "synchronous": 2, "busy_timeout": 5000}


@pytest.mark.integration
def test_nodes_migrating_one_database_at_once_take_turns(postgres: Any, tmp_path: Path) -> None:
    # Both run `gateway db upgrade` on an empty database at the same moment: one
    # migrates (building indexes CONCURRENTLY), the other waits, then finds nothing to do.
    url = postgres.create_database("migrated_at_once")
    try:
        runs = [
            subprocess.Popen(
                [Path(sys.executable).parent / "gateway", "db", "upgrade"],
                env={**os.environ, **make_settings(tmp_path / name, GATEWAY_DATABASE_URL=url)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for name in ("a", "b")
        ]
        outputs = [run.communicate(timeout=120)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        said = "\n".join(outputs)
        assert said.count("upgraded from nothing to") == 1, said
        assert said.count("nothing to do") == 1 and said.count("seeded") == 1, said
    finally:
        postgres.drop_database("migrated_at_once")
