"""Two machines simulated on one (SPEC 10): two `make run` stacks, each with its own port
and data dir, sharing one PostgreSQL (GATEWAY_DATABASE_URL) and one Redis
(GATEWAY_CACHE_URL), and the secrets the README's "Several machines" says nodes share.

Both nodes start at once, so both run `gateway db upgrade` on the empty database
together: one migrates and seeds, the other waits for it and finds nothing to do.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.forms import API_COOKIE, csrf_of, post_form, sign_in
from tests.support.http import HTML, Reply, free_port, request
from tests.support.postgres import Postgres
from tests.support.redis_server import Redis
from tests.support.stack import Runner, start_runner, stop_runner

TOKEN = secrets.token_urlsafe(32)
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


@dataclass
class Cluster:
    a: Runner
    b: Runner

    def nodes(self) -> tuple[Runner, Runner]:
        return self.a, self.b


def create(node: Runner, slug: str, category: str = "testing") -> Reply:
    body = {
        "slug": slug,
        "name": slug,
        "category": category,
        "summary": f"Written on the node at port {node.port}.",
        "homepage": "https://example.org/",
    }
    return request(
        node.port, "POST", "/backend/api/extensions", headers=AUTH, body=json.dumps(body)
    )


@pytest.fixture(scope="module")
def cluster(postgres: Postgres) -> Iterator[Cluster]:
    base = Path(tempfile.mkdtemp(prefix="gateway-nodes-"))
    base.chmod(0o755)
    redis = Redis(free_port(), base)
    redis.start()
    url = postgres.create_database("two_nodes")
    shared: dict[str, Any] = {
        "GATEWAY_DATABASE_URL": url,
        "GATEWAY_CACHE_URL": f"redis://127.0.0.1:{redis.port}/0",
        "GATEWAY_PROCESSES": "2",
        # What nodes must share besides the URLs (README, "Several machines").
        "FRONTEND_SECRET_KEY": secrets.token_urlsafe(32),
        "BACKEND_SECRET_KEY": secrets.token_urlsafe(32),
        "BACKEND_API_TOKEN": TOKEN,
    }
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(start_runner, base / name, **shared) for name in ("a", "b")]
    # Each node that started is stopped, also when the other did not.
    started = [future.result() for future in futures if future.exception() is None]
    try:
        assert len(started) == 2, [str(f.exception()) for f in futures if f.exception()]
        yield Cluster(*started)
    finally:
        for runner in started:
            stop_runner(runner)
        redis.stop()
        postgres.drop_database("two_nodes")
        shutil.rmtree(base, ignore_errors=True)


def test_each_node_has_its_own_port_and_data_dir_and_the_same_secrets(cluster: Cluster) -> None:
    a, b = cluster.nodes()
    assert a.port != b.port and a.data_dir != b.data_dir
    assert not (a.data_dir / "backend_app" / "catalog.sqlite3").exists()
    for node in (a, b):
        health = node.get("/_gateway/health").json()
        assert health["status"] == "ok", health
        assert health["database"]["url"].startswith("postgresql+psycopg://gateway:***@127.0.0.1")
        secrets_report = health["secrets"]
        assert secrets_report["status"] == "same" and secrets_report["differ"] == {}
        assert secrets_report["node"].endswith(str(node.data_dir))
    # Seeded once, by whichever node migrated first.
    assert (
        a.get("/backend/api/extensions").json()["total"]
        == b.get("/backend/api/extensions").json()["total"]
    )


READS = [
    ("/category/testing", HTML),
    ("/search?q=multi-node", HTML),
    ("/backend/api/extensions?category=testing&per_page=100", {}),
    ("/backend/api/extensions?category=testing&per_page=100", HTML),
]


def test_an_api_write_on_one_node_is_read_on_the_other(cluster: Cluster) -> None:
    for n in range(6):
        writer, reader = cluster.nodes() if n % 2 == 0 else cluster.nodes()[::-1]
        slug = f"multi-node-{n}"
        for path, headers in READS * 2:  # the reader's answers are in the shared cache
            reader.get(path, headers=headers)
        assert reader.get(READS[0][0], headers=HTML).headers["X-Cache"] == "HIT"
        assert create(writer, slug).status == 201
        for path, headers in READS:
            assert slug in reader.get(path, headers=headers).text, (path, headers)
        detail = reader.get(f"/backend/api/extensions/{slug}")
        assert detail.status == 200 and detail.json()["slug"] == slug
        assert slug in reader.get(f"/backend/api/extensions/{slug}", headers=HTML).text
        assert slug in reader.get(f"/extensions/{slug}", headers=HTML).text

    a, b = cluster.nodes()
    body = '{"summary": "Changed on node b."}'
    changed = request(
        b.port, "PATCH", "/backend/api/extensions/multi-node-0", headers=AUTH, body=body
    )
    assert changed.status == 200
    assert "Changed on node b." in a.get("/extensions/multi-node-0", headers=HTML).text
    gone = request(a.port, "DELETE", "/backend/api/extensions/multi-node-1", headers=AUTH)
    assert gone.status == 204
    assert b.get("/backend/api/extensions/multi-node-1").status == 404
    assert "multi-node-1" not in b.get("/category/testing", headers=HTML).text


def test_a_form_write_on_one_node_is_read_on_the_other(cluster: Cluster) -> None:
    a, b = cluster.nodes()
    for path, headers in READS * 2:
        b.get(path, headers=headers)
    cookie = f"{API_COOKIE}={sign_in(a, TOKEN)}"
    token, cookie = csrf_of(a, "/backend/ui/extensions/new", cookie)
    fields = {
        "slug": "multi-node-form",
        "name": "Multi-Node-Form",
        "category": "testing",
        "summary": "Written through node a's browsable form.",
        "homepage": "https://example.org/",
        "csrf_token": token,
    }
    assert post_form(a, "/backend/ui/extensions/new", fields, cookie).status == 303
    for path, headers in READS:
        assert "multi-node-form" in b.get(path, headers=headers).text.lower(), path
    # The same browser goes on through node b: same secrets, same sign-in rows.
    form = b.get("/backend/ui/extensions/multi-node-form/edit", headers={**HTML, "Cookie": cookie})
    assert form.status == 200 and "Multi-Node-Form" in form.text


def test_sign_out_on_one_node_ends_the_sign_in_on_the_other(cluster: Cluster) -> None:
    a, b = cluster.nodes()
    cookie = f"{API_COOKIE}={sign_in(b, TOKEN)}"
    token, cookie = csrf_of(a, "/backend/ui/extensions/new", cookie)  # valid on a too
    assert b.get("/backend/ui/extensions/new", headers={**HTML, "Cookie": cookie}).status == 200
    assert post_form(a, "/backend/ui/sign-out", {"csrf_token": token}, cookie).status == 303
    for node in (a, b):
        again = node.get("/backend/ui/extensions/new", headers={**HTML, "Cookie": cookie})
        assert again.status == 303 and "/backend/ui/sign-in" in again.headers["Location"]


def test_concurrent_creates_over_both_nodes_land_exactly_once(cluster: Cluster) -> None:
    a, b = cluster.nodes()
    before = a.get("/backend/api/extensions?category=caching").json()["total"]
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(number: int) -> None:
        for n in range(50):
            node = (a, b)[(number + n) % 2]
            reply = create(node, f"spread-{number}-{n:02d}", category="caching")
            with lock:
                statuses.append(reply.status)

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert statuses == [201] * 200, sorted(set(statuses))
    for node in (a, b):
        slugs: list[str] = []
        url: str | None = "/backend/api/extensions?category=caching&per_page=100"
        while url:
            listing = node.get(url).json()
            slugs += [item["slug"] for item in listing["items"]]
            url = listing["links"]["after"]
        spread = [slug for slug in slugs if slug.startswith("spread-")]
        assert len(spread) == len(set(spread)) == 200
        assert listing["total"] == before + 200
        counts = {
            c["slug"]: c["count"] for c in node.get("/backend/api/categories").json()["items"]
        }
        assert counts["caching"] == before + 200


def test_a_duplicate_slug_race_over_both_nodes_gives_one_201(cluster: Cluster) -> None:
    for round_ in range(3):
        slug = f"raced-{round_}"
        start = threading.Barrier(10)
        statuses: list[int] = []

        def racer(number: int, slug: str, start: threading.Barrier, statuses: list[int]) -> None:
            start.wait()
            statuses.append(create(cluster.nodes()[number % 2], slug).status)

        threads = [
            threading.Thread(target=racer, args=(n, slug, start, statuses)) for n in range(10)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(statuses) == [201] + [409] * 9, statuses
