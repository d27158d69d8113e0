"""`make bench` in its quickest form: the report has every section and row (not numbers)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.stack import REPO

SECTIONS = [
    "## Machine and versions",
    "## Commands",
    "## Requests per second, latency, errors",
    "## Ratios (wrk -c100, per round)",
    '## The 2012 "In Flask we Trust" table, on this stack',
    "## The cache under a flood of anonymous non-GET requests",
    "## In-process cost per request (no sockets)",
    "## Worker memory after traffic",
    "## The catalogue at 100 and 400 extensions (in-process, uncached)",
]
TARGETS = [
    "full: /backend/healthz",
    "full: / cache hit",
    "full: / cache miss",
    "full: /backend/api/extensions",
    "full: /static/style.css",
    "full (SQLite): /backend/api/extensions uncached",
    "full (PostgreSQL): / cache miss",
    "full (PostgreSQL): /backend/api/extensions uncached",
    "bare API app on uWSGI: /healthz",
    "gunicorn sync: /backend/healthz",
    "gunicorn sync: / cache miss",
    "nginx: stylesheet file",
    "nginx: the cached page's bytes as a file",
]
NUMBER = r"[\d,]+\.\d \([\d,]+\.\d-[\d,]+\.\d\)"


def test_make_bench_writes_a_complete_report(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    env = {**os.environ, "BENCH_SMOKE": "1", "BENCH_OUTPUT": str(out)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.run"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = out.read_text()
    for section in SECTIONS:
        assert section in report, section
    for target in TARGETS:
        for tool in ("ab -c1", "ab -c100", "wrk -c100"):
            row = re.search(rf"^\| {re.escape(target)} \| {tool} \| (.+) \|$", report, re.M)
            assert row, (target, tool)
            cells = [c.strip() for c in row.group(1).split("|")]
            assert all(re.fullmatch(NUMBER, c) for c in cells[:3]) and cells[3].isdigit(), cells
    for path in ("/hello", "/environ", "/template"):
        pattern = rf"^\| {path} \| \d+ \| [\d,]+ \| \d+ \| [\d,]+ \| \d+ \|$"
        assert re.search(pattern, report, re.M), path
    assert re.search(r"sampled reads of `/` that were hits \| \d+/\d+ \|", report)
    assert re.search(r"^\| gateway cost over the bare app \| -?[\d,]+\.\d \(", report, re.M)
    assert re.search(r"^\| gateway / the bare app \(ratio\) \| \d\.\d\d \(", report, re.M)
    ops = re.search(r"^\| gateway's own over the bare app \| ([\d,]+) \|$", report, re.M)
    assert ops and 0 < int(ops.group(1).replace(",", "")) < 5000, "bytecodes of the layers"
    assert re.search(r"uWSGI workers \(gateway\) \(4\) \| [\d.]+ \| [\d.]+ \|", report)
    for engine in ("sqlite", "postgresql"):
        for read in ("site: home", "API: search 'login'", "API: last page (cursor)"):
            pattern = rf"^\| {engine} \| {re.escape(read)} \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$"
            assert re.search(pattern, report, re.M), (engine, read)
