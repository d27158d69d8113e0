"""`make bench`: the served gateway beside its references, written to BENCHMARKS.md.

Every round measures every target once, in the same order (A B C ... A B C ...), so a
noisy moment of the shared machine hits all of them alike; ratios are taken per round,
then summarised as median (min-max). Everything runs on 127.0.0.1 and is stopped by PID.

    BENCH_QUICK=1   about 2 minutes (2 rounds, shorter runs)
    BENCH_SMOKE=1   the shape only, in seconds (the test suite's smoke test)
    BENCH_OUTPUT    where the report goes (BENCHMARKS.md)
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import catalogue
from bench.servers import WORKERS, Site, gunicorn_site, uwsgi_site
from bench.tools import Result, ab, summary, wrk
from tests.support.http import request, wait_until_healthy
from tests.support.postgres import Postgres
from tests.support.stack import REPO, VENV, Runner, children, start_runner, stop_runner
from tests.support.tls_files import make_tls_files

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
QUICK = SMOKE or os.environ.get("BENCH_QUICK") == "1"
ROUNDS = 1 if SMOKE else 2 if QUICK else 3
WRK_SECONDS = 1 if SMOKE else 2 if QUICK else 5
AB_C1 = 50 if SMOKE else 300 if QUICK else 1000
AB_C100 = 200 if SMOKE else 1000 if QUICK else 3000
TRUST_N = 100 if SMOKE else 1000
# The in-process costs: many short rounds, so that each round's difference is taken close
# in time (the machine's noise drifts over seconds).
MICRO_CALLS = 50 if SMOKE else 250
MICRO_ROUNDS = 3 if SMOKE else 60
# The 2012 talk's Flask figures (req/s), on its own hardware.
TRUST_2012 = {"/hello": (806, 826), "/environ": (697, 724), "/template": (670, 693)}
MISS = {"Cookie": "gateway_site_session=bench"}  # any session cookie bypasses the cache
GZIP = {"Accept-Encoding": "gzip"}
API_MISS = {"Cookie": "gateway_api_session=bench"}  # the API's own session cookie, likewise
# The catalogue's in-process rows (bench/catalogue.py): its sizes and calls per read.
CATALOGUE_SIZES = (100, 400) if SMOKE else (1_000, 100_000)
# What a browser sends (nginx passes these on), so the environ dump is about as large as
# the 2012 one (~2900 bytes).
BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0 Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Referer": "http://127.0.0.1/a/page/that/linked/here?with=a&query=string",
    "Cookie": "; ".join(f"pref{n}={'x' * 40}" for n in range(40)),
}


def browser_bytes(stack: Runner) -> dict[str, tuple[int, int, int]]:
    """The home page's first visit and its revalidation, as a browser gets them: status,
    bytes of the status line and headers, bytes of the body."""
    headers = {**BROWSER, "Accept-Encoding": "gzip, deflate, br, zstd"}
    stack.get("/", headers=headers)  # the file is written
    first = stack.get("/", headers=headers)
    again = stack.get("/", headers={**headers, "If-None-Match": first.headers["ETag"]})

    def head(reply: Any) -> int:
        return len(f"HTTP/1.1 {reply.status} X\r\n{reply.headers}".encode())

    return {
        "first visit": (first.status, head(first), len(first.body)),
        "revalidation": (again.status, head(again), len(again.body)),
    }


def measure_all(
    targets: dict[str, tuple[str, dict[str, str]]],
) -> dict[str, dict[str, list[Result]]]:
    """ab -c1, ab -c100 and wrk -c100 on every target, rounds interleaved."""
    results: dict[str, dict[str, list[Result]]] = defaultdict(lambda: defaultdict(list))
    for _ in range(ROUNDS):
        for name, (url, headers) in targets.items():
            results[name]["ab -c1"].append(ab(url, 1, AB_C1, headers))
            results[name]["ab -c100"].append(ab(url, 100, AB_C100, headers))
            results[name]["wrk -c100"].append(wrk(url, WRK_SECONDS, 100, headers))
    return results


def ratios(
    results: dict[str, dict[str, list[Result]]], top: str, bottom: str, tool: str
) -> list[float]:
    """``top / bottom`` requests/s, per round."""
    return [a.rps / b.rps for a, b in zip(results[top][tool], results[bottom][tool], strict=True)]


def flood(stack: Runner) -> dict[str, Any]:
    """`/` alone, then under a flood of anonymous non-GET requests; reads sampled for hits."""
    script = Path(tempfile.mkdtemp()) / "flood.lua"
    script.write_text(
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        '  if n % 2 == 0 then return wrk.format("OPTIONS", "/") end\n'
        '  return wrk.format("POST", "/stars/flask-login", {["Origin"]="http://evil.example",'
        ' ["Content-Type"]="application/x-www-form-urlencoded"}, "action=star")\n'
        "end\n"
    )
    url = f"http://127.0.0.1:{stack.port}/"
    alone, flooded, flood_rps, hits, samples = [], [], [], 0, 0
    for _ in range(ROUNDS):
        alone.append(wrk(url, WRK_SECONDS, 50).rps)
        attack = subprocess.Popen(
            ["wrk", "-t1", "-c4", f"-d{WRK_SECONDS + 2}s", "-s", str(script), url],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.5)
        flooded.append(wrk(url, WRK_SECONDS, 50).rps)
        for _ in range(20):
            samples += 1
            hits += stack.get("/").headers.get("X-Cache") == "HIT"
        out, _ = attack.communicate(timeout=60)
        flood_rps.append(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))  # type: ignore[union-attr]
    shutil.rmtree(script.parent)
    return {
        "alone": alone,
        "flooded": flooded,
        "flood": flood_rps,
        "hits": hits,
        "samples": samples,
    }


def micro() -> tuple[dict[str, list[float]], dict[str, int]]:
    """us per request of the WSGI callables driven directly (no sockets), in many short
    rounds in a random order (a noisy moment of the machine then touches each alike);
    and the Python bytecode instructions one request executes, which no noise moves."""
    from werkzeug.test import EnvironBuilder

    from gateway.compose import build_gateway
    from gateway.factory import create_app
    from tests.support.settings import make_settings

    data = Path(tempfile.mkdtemp())
    settings = make_settings(data)
    gateway = build_gateway(settings)
    bare = create_app("backend_app", settings)
    targets: dict[str, tuple[Callable[..., Any], str]] = {
        "bare API app, /healthz": (bare, "/healthz"),
        "gateway, /backend/healthz": (gateway, "/backend/healthz"),
        "gateway, / (cache hit)": (gateway, "/"),
    }

    def one(app: Callable[..., Any], environ: dict[str, Any]) -> None:
        body = app(dict(environ), lambda status, headers, exc_info=None: None)
        b"".join(body)
        getattr(body, "close", lambda: None)()

    def cost(app: Callable[..., Any], path: str) -> float:
        environ = EnvironBuilder(path=path, base_url="http://localhost").get_environ()
        start = time.perf_counter()
        for _ in range(MICRO_CALLS):
            one(app, environ)
        return (time.perf_counter() - start) / MICRO_CALLS * 1e6

    def bytecodes(app: Callable[..., Any], path: str) -> int:
        environ = EnvironBuilder(path=path, base_url="http://localhost").get_environ()
        one(app, environ)  # warm: what only a first request does is not counted
        executed = 0

        def trace(frame: Any, event: str, arg: Any) -> Any:
            nonlocal executed
            frame.f_trace_opcodes = True
            executed += event == "opcode"
            return trace

        sys.settrace(trace)
        try:
            one(app, environ)
        finally:
            sys.settrace(None)
        return executed

    found: dict[str, list[float]] = defaultdict(list)
    for _ in range(MICRO_ROUNDS):
        for name, target in random.sample(list(targets.items()), len(targets)):
            found[name].append(cost(*target))
    executed = {name: bytecodes(*target) for name, target in targets.items()}
    shutil.rmtree(data, ignore_errors=True)
    return found, executed


def metrics_cost() -> list[float]:
    """us a request pays for the gateway's counters on uWSGI's shared cache
    (bench/metrics_cost.py, in a one-worker uWSGI with that cache)."""
    base = Path(tempfile.mkdtemp(prefix="gateway-metrics-cost-"))
    site = Site("metrics-cost", base)
    site.start(
        "uwsgi",
        [str(VENV / "bin" / "uwsgi"), "--http-socket", f"127.0.0.1:{site.port}", "--master",
         "--processes", "1", "--cache2", "name=gateway-metrics,items=2048,blocksize=8",
         "--pythonpath", str(REPO), "--module", "bench.metrics_cost:application",
         "--disable-logging"],
        dict(os.environ),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:  # listening yet? (a GET would run the whole measurement)
            try:
                socket.create_connection(("127.0.0.1", site.port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the metrics-cost uWSGI did not start"
                time.sleep(0.1)
        extra: list[float] = json.loads(request(site.port, "GET", "/", timeout=120).body)[
            "metrics_us"
        ]
        return extra
    finally:
        site.stop()
        shutil.rmtree(base, ignore_errors=True)


def memory(pids: list[int]) -> dict[str, float]:
    """Median private memory (Private_Clean + Private_Dirty), RSS and Pss (MiB) of
    ``pids``, from /proc/PID/smaps_rollup."""
    found: dict[str, list[float]] = defaultdict(list)
    for pid in pids:
        fields = {
            name: int(value.split()[0]) / 1024
            for name, value in (
                line.split(":", 1)
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
            )
        }
        found["private"].append(fields["Private_Clean"] + fields["Private_Dirty"])
        found["rss"].append(fields["Rss"])
        found["pss"].append(fields["Pss"])
    return {name: statistics.median(values) for name, values in found.items()} | {
        "workers": len(pids)
    }


def versions() -> dict[str, str]:
    """What was measured with."""

    def first_line(argv: list[str]) -> str:
        done = subprocess.run(argv, capture_output=True, text=True)
        return (done.stdout or done.stderr).strip().splitlines()[0]

    return {
        "Python": platform.python_version(),
        "Flask": metadata.version("flask"),
        "Werkzeug": metadata.version("werkzeug"),
        "flask-caching": metadata.version("flask-caching"),
        "uWSGI": first_line([str(VENV / "bin" / "uwsgi"), "--version"]),
        "gunicorn": first_line([str(VENV / "bin" / "gunicorn"), "--version"]),
        "nginx": first_line(["nginx", "-v"]),
        "wrk": first_line(["wrk", "-v"]),
        "ab": first_line(["ab", "-V"]),
    }


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    gib = int(mem) // 1024 // 1024
    return f"{os.cpu_count()} cores ({cpu}), {gib} GiB, Linux {platform.release()}"


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    base.chmod(0o755)
    sites: list[Site] = []
    stack = start_runner(base / "gateway")
    # The same stack on PostgreSQL (a private server), for the uncached rows.
    postgres = Postgres.start(base / "postgres")
    pg_stack = start_runner(
        base / "gateway-pg", GATEWAY_DATABASE_URL=postgres.create_database("bench")
    )
    # The same stack over HTTPS (a certificate made here): TLS's own cost on a hit.
    tls = make_tls_files(base / "tls")
    https = start_runner(
        base / "gateway-https",
        tls=tls.client_context(),
        GATEWAY_TLS_CERT=str(tls.cert),
        GATEWAY_TLS_KEY=str(tls.key),
    )
    try:
        env = {
            **stack.env,
            "GATEWAY_PROFILE": "production",
            "GATEWAY_DATA_DIR": str(stack.data_dir),
        }
        env.update(
            {k: v for k, v in json.loads((stack.data_dir / "secrets.json").read_text()).items()}
        )
        env["GATEWAY_TRUSTED_HOSTS"] = "127.0.0.1,localhost"
        full = f"http://127.0.0.1:{stack.port}"
        pg = f"http://127.0.0.1:{pg_stack.port}"
        for _ in range(3):  # warm every worker and the shared cache
            stack.get("/")
            stack.get("/", headers=GZIP)
            stack.get("/backend/api/extensions")
            https.get("/")
        visit = browser_bytes(stack)
        page = base / "page.html"
        hit = stack.get("/")
        assert hit.headers["X-Cache"] == "HIT", "the home page is not served from the cache"
        page.write_bytes(hit.body)
        page.chmod(0o644)

        # The same nginx.conf serving those bytes as one of its static files: the hit
        # path's own cost, apart from what every answer of this server costs (logging,
        # security headers, request id).
        home = base / "home"
        shutil.copytree(REPO / "frontend_app" / "static", home / "frontend_app" / "static")
        shutil.copy(page, home / "frontend_app" / "static" / "page.html")
        (home / "backend_app").symlink_to(REPO / "backend_app")
        (home / "deploy").symlink_to(REPO / "deploy")
        bare = uwsgi_site(base, "bare", "bench.bare:application", env, static_home=home)
        trust = uwsgi_site(base, "trust", "bench.trust:application", env)
        guni = gunicorn_site(base, env, page)
        sites += [bare, trust, guni]
        wait_until_healthy(bare.port, 60, path="/healthz")
        wait_until_healthy(trust.port, 60, path="/hello")

        targets = {
            "full: /backend/healthz": (f"{full}/backend/healthz", {}),
            "full: / cache hit": (f"{full}/", {}),
            "full: / cache hit, gzip": (f"{full}/", GZIP),
            "https: / cache hit": (f"https://127.0.0.1:{https.port}/", {}),
            "full: / cache miss": (f"{full}/", MISS),
            "full: /backend/api/extensions": (f"{full}/backend/api/extensions", {}),
            "full (SQLite): /backend/api/extensions uncached": (
                f"{full}/backend/api/extensions",
                API_MISS,
            ),
            "full (PostgreSQL): / cache miss": (f"{pg}/", MISS),
            "full (PostgreSQL): /backend/api/extensions uncached": (
                f"{pg}/backend/api/extensions",
                API_MISS,
            ),
            "full: /static/style.css": (f"{full}/static/style.css", {}),
            "bare API app on uWSGI: /healthz": (f"{bare.url}/healthz", {}),
            "gunicorn sync: /backend/healthz": (f"{guni.url}/backend/healthz", {}),
            "gunicorn sync: / cache miss": (f"{guni.url}/", MISS),
            "nginx: stylesheet file": (f"{guni.url}/style.css", {}),
            "nginx: the cached page's bytes as a file": (f"{guni.url}/page.html", {}),
            "nginx.conf: the same bytes as a static file": (f"{bare.url}/static/page.html", {}),
        }
        results = measure_all(targets)
        trust_results = {
            path: (
                len(request(trust.port, "GET", path, headers=BROWSER).body),
                ab(trust.url + path, 1, TRUST_N, BROWSER).rps,
                ab(trust.url + path, 100, TRUST_N, BROWSER).rps,
            )
            for path in TRUST_2012
        }
        floods = flood(stack)
        memories = {
            "uWSGI workers (gateway)": memory(children(stack.pids()["uwsgi"])),
            "gunicorn workers (gateway)": memory(
                children(next(p.popen.pid for p in guni.processes if p.name == "gunicorn"))
            ),
        }
    finally:
        for site in sites:
            site.stop()
        stop_runner(https)
        stop_runner(stack)
        stop_runner(pg_stack)
        postgres.stop()
        shutil.rmtree(base, ignore_errors=True)
    micro_results, bytecodes = micro()
    micro_results["gateway's counters under uWSGI (a request, one cache event)"] = metrics_cost()
    if SMOKE:
        catalogue.CALLS, catalogue.ROUNDS = 2, 1
    elif QUICK:
        catalogue.CALLS = 10
    catalogue_results = catalogue.main(["sqlite", "postgresql"], CATALOGUE_SIZES)

    report = write_report(
        results, trust_results, floods, (micro_results, bytecodes), memories,
        catalogue_results, visit,
    )  # fmt: skip
    out = Path(os.environ.get("BENCH_OUTPUT", REPO / "BENCHMARKS.md"))
    out.write_text(report)
    print(f"bench: wrote {out}")


def write_report(
    results: dict[str, dict[str, list[Result]]],
    trust_results: dict[str, tuple[int, float, float]],
    floods: dict[str, Any],
    micro: tuple[dict[str, list[float]], dict[str, int]],
    memories: dict[str, dict[str, float]],
    catalogue_results: dict[str, dict[str, dict[int, float]]],
    visit: dict[str, tuple[int, int, int]],
) -> str:
    """BENCHMARKS.md."""
    micro_results, bytecodes = micro
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` ({'quick' if QUICK else 'full'} run, {ROUNDS} interleaved rounds)"
        f" on {time.strftime('%Y-%m-%d')}. Ratios, not absolute times, are the results:",
        "the machine is shared and noisy. Figures are median (min-max) over the rounds;",
        "ratios are computed per round.",
        "",
        "## Machine and versions",
        "",
        f"- machine: {machine()}",
        *[f"- {name}: {value}" for name, value in versions().items()],
        f"- workers: {WORKERS} (uWSGI and gunicorn alike); load generators on the same cores",
        "",
        "## Commands",
        "",
        f"- `ab -k -c1 -n{AB_C1} URL`, `ab -k -c100 -n{AB_C100} URL`",
        f"- `wrk -t2 -c100 -d{WRK_SECONDS}s --latency --timeout 5s URL`",
        "- full: `make run`'s stack (nginx -> uWSGI -> gateway.wsgi), uWSGI's shared cache;",
        "  a miss carries `Cookie: gateway_site_session=bench`, which bypasses the cache",
        "- bare API app: `uwsgi --ini uwsgi.ini --module bench.bare:application` behind the",
        "  same nginx.conf (no dispatcher, no gateway middleware)",
        "- gunicorn: `gunicorn --workers 4 --worker-class sync gateway.wsgi:application`",
        "  behind nginx (proxy_pass, keep-alive); its cache is per worker (no uWSGI cache)",
        "- nginx files: the stylesheet, and the home page's bytes saved from a cache hit, by a",
        "  bare nginx (no access log, no added headers); the same bytes also as a static file",
        "  of the production nginx.conf (its access log, security headers and request id)",
        "",
        "## Requests per second, latency, errors",
        "",
        "| target | tool | req/s | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, tools in results.items():
        for tool, rows in tools.items():
            rps, p50, p99 = (summary([getattr(r, k) for r in rows]) for k in ("rps", "p50", "p99"))
            errors = sum(r.errors for r in rows)
            lines.append(f"| {name} | {tool} | {rps} | {p50} | {p99} | {errors} |")
    goals = [
        (
            "home-page hit / nginx serving the same bytes (goal >= 0.8)",
            "full: / cache hit",
            "nginx: the cached page's bytes as a file",
        ),
        (
            "home-page hit / the same bytes as a static file of nginx.conf",
            "full: / cache hit",
            "nginx.conf: the same bytes as a static file",
        ),
        (
            "home-page hit / nginx serving the stylesheet (goal >= 0.5)",
            "full: / cache hit",
            "nginx: stylesheet file",
        ),
        (
            "full stack /backend/healthz / gunicorn sync (goal >= 2.5)",
            "full: /backend/healthz",
            "gunicorn sync: /backend/healthz",
        ),
        (
            "full stack / miss / gunicorn sync / miss",
            "full: / cache miss",
            "gunicorn sync: / cache miss",
        ),
        (
            "full stack /backend/healthz / bare API app (dispatcher cost)",
            "full: /backend/healthz",
            "bare API app on uWSGI: /healthz",
        ),
        ("home-page hit / miss", "full: / cache hit", "full: / cache miss"),
        (
            "HTTPS hit / the same hit over HTTP (goal >= 0.8)",
            "https: / cache hit",
            "full: / cache hit",
        ),
        (
            "gzip hit / the same hit uncompressed (goal >= 0.9)",
            "full: / cache hit, gzip",
            "full: / cache hit",
        ),
        (
            "uncached home page: PostgreSQL / SQLite",
            "full (PostgreSQL): / cache miss",
            "full: / cache miss",
        ),
        (
            "uncached API list: PostgreSQL / SQLite",
            "full (PostgreSQL): /backend/api/extensions uncached",
            "full (SQLite): /backend/api/extensions uncached",
        ),
    ]
    lines += [
        "",
        "## Ratios (wrk -c100, per round)",
        "",
        "| ratio | median (min-max) |",
        "|---|---|",
    ]
    for label, top, bottom in goals:
        lines.append(f"| {label} | {summary(ratios(results, top, bottom, 'wrk -c100'))} |")
    lines += [
        "",
        "## What a browser downloads for the home page",
        "",
        "A browser's headers (gzip accepted); the second visit revalidates with the first",
        "answer's ETag (`max-age=0`: browsers ask every time).",
        "",
        "| visit | status | header bytes | body bytes |",
        "|---|---|---|---|",
    ]
    for label, (status, head, body) in visit.items():
        lines.append(f"| {label} | {status} | {head:,} | {body:,} |")
    lines += [
        "",
        '## The 2012 "In Flask we Trust" table, on this stack',
        "",
        "nginx -> uWSGI (4 workers) -> a bench-only Flask app (`bench/trust.py`); the 2012",
        "figures were measured on other hardware and another server set-up.",
        "",
        "Requests carry a browser's headers (User-Agent, Accept, Referer, cookies).",
        "",
        f"| route | bytes | ab -c1 -n{TRUST_N} req/s | 2012 c1 | ab -c100 -n{TRUST_N} req/s"
        " | 2012 c100 |",
        "|---|---|---|---|---|---|",
    ]
    for path, (size, c1, c100) in trust_results.items():
        old_c1, old_c100 = TRUST_2012[path]
        lines.append(f"| {path} | {size} | {c1:,.0f} | {old_c1} | {c100:,.0f} | {old_c100} |")
    ratio = [f / a for f, a in zip(floods["flooded"], floods["alone"], strict=True)]
    lines += [
        "",
        "## The cache under a flood of anonymous non-GET requests",
        "",
        "wrk -c4 sends OPTIONS / and cross-site POST /stars/... as fast as it can while",
        "wrk -c50 reads `/`; reads of `/` are sampled for `X-Cache` meanwhile.",
        "",
        "| figure | median (min-max) |",
        "|---|---|",
        f"| `/` alone, req/s | {summary(floods['alone'])} |",
        f"| `/` during the flood, req/s | {summary(floods['flooded'])} |",
        f"| during / alone | {summary(ratio)} |",
        f"| flood, req/s | {summary(floods['flood'])} |",
        f"| sampled reads of `/` that were hits | {floods['hits']}/{floods['samples']} |",
        "",
        "## In-process cost per request (no sockets)",
        "",
        "The WSGI callables driven directly (testing profile, in-process store).",
        "",
        "| callable | us/request |",
        "|---|---|",
    ]
    for name, values in micro_results.items():
        lines.append(f"| {name} | {summary(values)} |")
    pairs = list(
        zip(
            micro_results["gateway, /backend/healthz"],
            micro_results["bare API app, /healthz"],
            strict=True,
        )
    )
    overhead = [gateway - bare for gateway, bare in pairs]
    lines.append(f"| gateway cost over the bare app | {summary(overhead)} |")
    # A loaded machine slows both alike: the ratio moves far less than the difference.
    ratio = [gateway / bare for gateway, bare in pairs]
    lines.append(f"| gateway / the bare app (ratio) | {summary(ratio, 2)} |")
    bare_ops, gateway_ops = (
        bytecodes["bare API app, /healthz"],
        bytecodes["gateway, /backend/healthz"],
    )
    lines += [
        "",
        f"{MICRO_ROUNDS} rounds of {MICRO_CALLS} calls each, the targets in a random order in"
        " each round; the gateway's cost is taken per round.",
        "",
        "Python bytecode instructions one request executes (`sys.settrace` opcode events,"
        " after a first request): a figure no noise of the machine moves.",
        "",
        "| callable | bytecode instructions |",
        "|---|---|",
        *(f"| {name} | {count:,} |" for name, count in bytecodes.items()),
        f"| gateway's own over the bare app | {gateway_ops - bare_ops:,} |",
    ]
    small, large = CATALOGUE_SIZES
    lines += [
        "",
        f"## The catalogue at {small:,} and {large:,} extensions (in-process, uncached)",
        "",
        "`bench/catalogue.py`: each size a catalogue of its own, grown with generated",
        "extensions; each read driven through the WSGI callable with the response cache",
        f"off, median ms of {catalogue.CALLS} calls x {catalogue.ROUNDS} interleaved rounds."
        " Goal: every read at",
        f"{large:,} within 2x its cost at {small:,}; the last page within 3x the first"
        " (through the cursor; `page=N` skips rows).",
        "",
        f"| engine | read | ms at {small:,} | ms at {large:,} | ratio |",
        "|---|---|---|---|---|",
    ]
    for engine, reads in catalogue_results.items():
        for name, by_size in reads.items():
            a, b = by_size[small], by_size[large]
            lines.append(f"| {engine} | {name} | {a:.2f} | {b:.2f} | {b / a:.2f} |")
    lines += [
        "",
        "## Worker memory after traffic",
        "",
        "| workers | private MiB | RSS MiB | Pss MiB |",
        "|---|---|---|---|",
    ]
    for name, figures in memories.items():
        lines.append(
            f"| {name} ({figures['workers']:.0f}) | {figures['private']:.1f} | {figures['rss']:.1f}"
            f" | {figures['pss']:.1f} |"
        )
    lines += [
        "",
        "## Notes",
        "",
        "- A hit of `/` or of the API list is answered by nginx from the app's page file",
        "  (gateway/cache/files.py), without entering uWSGI; the candidates compared for that",
        "  path (files, memcached_pass) are in docs/benchmarks.md.",
        "- The miss carries a session cookie: nginx and the app both bypass the cache.",
        "- The PostgreSQL rows: the same `make run` stack on `GATEWAY_DATABASE_URL`, a private",
        "  PostgreSQL server on loopback (fsync off, as in the tests).",
        "- The bare nginx writes no access log and adds no header; the gateway's nginx.conf",
        "  logs every request and adds the security headers and the request id to each. The",
        "  hit beside the same bytes as a static file of nginx.conf is the hit path's own cost.",
        "- Private memory is Private_Clean + Private_Dirty: what each worker adds. The",
        "  standard library is shared from uWSGI's master (deploy/uwsgi_preload.py); Flask",
        "  and the venv's libraries are imported by each worker, so a chain reload loads new",
        "  versions (docs/benchmarks.md, Worker memory).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
