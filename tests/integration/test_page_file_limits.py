"""Page files under stress, through nginx: generations swapped under concurrent readers,
files bounded whatever URLs clients invent, none served past s-maxage, and another
RESPONSE_CACHE_TIMEOUT than the default (gateway/cache/files.py, nginx.conf)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.http import request
from tests.support.load import MEASURED, run_wrk, wrk_result
from tests.support.stack import Runner, start_runner, stop_runner, uwsgi_stopped

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SLUG = "flask-wtf"  # in the shipped fixture, category "forms"


@pytest.fixture
def runner_with(request: pytest.FixtureRequest) -> Iterator[Runner]:
    """A `make run` stack with the settings the test is parametrized with."""
    base = Path(tempfile.mkdtemp(prefix="gateway-limits-"))
    base.chmod(0o755)
    runner = start_runner(base / "data", **request.param)
    yield runner
    stop_runner(runner)
    shutil.rmtree(base, ignore_errors=True)


def page_files(runner: Runner) -> list[Path]:
    """Every page file on disk, in every generation (os.walk: the app may remove some
    while this looks)."""
    found = []
    for folder, _, names in os.walk(runner.data_dir / "pages"):
        found += [Path(folder, n) for n in names if not n.startswith(".")]
    return found


def file_hits(runner: Runner) -> int:
    """Lines of nginx's access log answered from a page file (no upstream)."""
    log = (runner.data_dir / "log" / "access.log").read_text()
    return sum(" 200 " in line and " upstream_status=- " in line for line in log.splitlines())


def test_existing_pages_never_fail_while_generations_are_renewed(stack: Runner) -> None:
    """Readers at full speed (wrk, 4 workers behind nginx) and a writer renewing the
    generation as fast as it can for 20 s: every read of an existing page is its 200,
    and every write is seen by the next read, site and API."""
    pages = [
        "html:/", "html:/category/forms", f"html:/extensions/{SLUG}",
        f"/backend/api/extensions/{SLUG}", f"html:/backend/api/extensions/{SLUG}",
        "/backend/api/extensions?category=forms", "/backend/api/categories",
    ]  # fmt: skip
    hits_before = file_hits(stack)
    original = stack.get(f"/backend/api/extensions/{SLUG}").json()["summary"]
    load = run_wrk(stack.port, seconds=22, connections=8, paths=pages)
    time.sleep(1)  # wrk is reading: the files exist
    stale, writes = [], 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        summary = f"Renewed under load {writes}"
        body = json.dumps({"summary": summary})
        reply = stack.write("PATCH", f"/backend/api/extensions/{SLUG}", body)
        assert reply.status == 200, reply.body
        writes += 1
        api = stack.get(f"/backend/api/extensions/{SLUG}").json()["summary"]
        site = stack.get(f"/extensions/{SLUG}", headers=HTML).text
        listing = stack.get("/category/forms", headers=HTML).text
        if api != summary or summary not in site or summary not in listing:
            stale.append(writes)
    result = wrk_result(load, timeout=60)
    restore = json.dumps({"summary": original})
    assert stack.write("PATCH", f"/backend/api/extensions/{SLUG}", restore).status == 200
    os_hits = file_hits(stack) - hits_before
    MEASURED["file_swap_race"] = {**result, "writes": writes, "file_hits": os_hits}
    assert result["non200"] == 0 and result["non2xx"] == 0, result
    assert result["connect"] + result["read"] + result["write"] + result["timeout"] == 0, result
    assert not stale, f"writes not seen by the next read: {stale}"
    assert writes >= 100 and result["requests"] >= 10 * writes
    # The race was run: nginx answered a good part of the reads from files meanwhile.
    assert os_hits >= result["requests"] // 10, (os_hits, result["requests"])


@pytest.mark.parametrize("runner_with", [{"GATEWAY_PAGE_CACHE_ITEMS": "64"}], indirect=True)
def test_page_files_are_bounded_by_the_page_cache(runner_with: Runner) -> None:
    runner = runner_with
    urls = [f"/search?q=flood-{n}" for n in range(600)] + [
        f"/backend/api/extensions?q=flood-{n}" for n in range(200)
    ]

    def fetch(path: str) -> int:
        return request(runner.port, "GET", path, headers=HTML).status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(fetch, urls))
        assert set(statuses) == {200}
        counts = [len(page_files(runner))]
        # Flood again while counting, with pages that each get a file.
        futures = [pool.submit(fetch, f"/search?q=again-{n}") for n in range(300)]
        while not all(f.done() for f in futures):
            counts.append(len(page_files(runner)))
            time.sleep(0.02)
    files = page_files(runner)
    size = sum(p.stat().st_size for p in files)
    MEASURED["page_files_bound"] = {"items": 64, "max_seen": max(counts), "bytes": size}
    assert max(counts) <= 64 and 0 < len(files) <= 64
    assert size <= 64 * 60 * 1024
    # The newest pages are the ones kept; an evicted page is still served, by the app.
    assert any("again-299" in str(p) for p in files)
    assert fetch("/search?q=flood-0") == 200


@pytest.mark.parametrize("runner_with", [{"GATEWAY_RESPONSE_CACHE_TIMEOUT": "4"}], indirect=True)
def test_no_file_is_served_past_s_maxage_even_without_python(runner_with: Runner) -> None:
    runner = runner_with
    # A write renews the generation: it begins between these two instants.
    began = time.time()
    reply = runner.write("PATCH", f"/backend/api/extensions/{SLUG}", '{"summary": "Timed."}')
    renewed = time.time()
    assert reply.status == 200
    for _ in range(2):
        hit = runner.get("/", headers=HTML)
    # Another timeout than the default keeps nginx's hits, with its own Cache-Control.
    assert hit.headers["X-Cache"] == "HIT" and runner.from_file(hit)
    assert hit.headers["Cache-Control"] == "public, max-age=0, s-maxage=4"
    last_hit = 0.0
    with uwsgi_stopped(runner):
        while time.time() < renewed + 8:
            try:
                reply = request(runner.port, "GET", "/", headers=HTML, timeout=0.3)
            except TimeoutError:  # asked the stopped app: nginx had no file any more
                break
            assert reply.status == 200 and reply.body == hit.body
            last_hit = time.time()
            time.sleep(0.05)
        expired = time.time()
    MEASURED["file_expiry"] = {"s_maxage": 4, "served_for": round(last_hit - began, 2)}
    # Served while the generation was young, never once it was 4 s old (nginx's clock
    # may lag its event loop by a few milliseconds).
    assert began + 2.5 < last_hit < renewed + 4 + 0.1
    assert expired < renewed + 4 + 0.5
