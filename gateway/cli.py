"""The ``gateway`` console script: routes, mounts, check, run, secrets.

Every command reads its configuration from the environment (and the generated secrets
file), like uWSGI does. Tests hand a mapping as click's ``obj`` instead.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import click
from werkzeug.serving import run_simple

from gateway.mounts import GATEWAY_PREFIX, Gateway, build_gateway
from gateway.secret_file import ensure_secrets
from gateway.settings import PROFILES, ConfigError, data_dir, resolve_source
from gateway.stores import check_cache_url


def _source(ctx: click.Context, profile: str | None = None) -> Mapping[str, Any] | str | None:
    """What to build from: the test's mapping, a profile name, or the environment."""
    if ctx.obj is not None:
        return {**ctx.obj, "GATEWAY_PROFILE": profile} if profile else ctx.obj
    return profile


def _refuse(ctx: click.Context, problems: Sequence[str]) -> NoReturn:
    """Exit 1 with one ``error:`` line per problem."""
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    ctx.exit(1)
    raise AssertionError("unreachable: ctx.exit raises")


def _build(ctx: click.Context, profile: str | None = None) -> Gateway:
    """Build the gateway or exit with one line per configuration problem."""
    try:
        return build_gateway(_source(ctx, profile))
    except ConfigError as exc:
        _refuse(ctx, exc.problems)


def _table(rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` as left-aligned columns, the first row being the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@click.group()
def main() -> None:
    """Operate the gateway: the website at / and the JSON API at /backend."""


@main.command()
@click.pass_context
def routes(ctx: click.Context) -> None:
    """Every route of every mounted app, with its full public path."""
    gateway = _build(ctx)
    rows = [("PATH", "METHODS", "ENDPOINT", "APP")]
    for prefix, app in sorted(gateway.apps.items()):
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            methods = ",".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
            rows.append((prefix + rule.rule, methods, rule.endpoint, app.name))
    rows.append((f"{GATEWAY_PREFIX}/health", "GET", "gateway.health", "gateway"))
    _table(rows)


@main.command()
@click.pass_context
def mounts(ctx: click.Context) -> None:
    """The mount table: prefix, app, config profile, cache namespace."""
    gateway = _build(ctx)
    rows = [("PREFIX", "APP", "PROFILE", "NAMESPACE")]
    for mount in gateway.mounts:
        app = gateway.apps[mount.prefix]
        rows.append((mount.prefix or "/", mount.app, app.config["PROFILE"], mount.namespace))
    _table(rows)


@main.command()
@click.option("--profile", type=click.Choice(PROFILES), help="Check this profile instead.")
@click.pass_context
def check(ctx: click.Context, profile: str | None) -> None:
    """Build every app as it would serve; exit 1 with one line per problem."""
    try:
        source, resolved = resolve_source(_source(ctx, profile))
        url = str(source.get("GATEWAY_CACHE_URL") or "simple")
        source = {**source, "GATEWAY_PROFILE": resolved, "GATEWAY_CACHE_URL": check_cache_url(url)}
        gateway = build_gateway(source)
    except ConfigError as exc:
        _refuse(ctx, exc.problems)
    except Exception as exc:  # noqa: BLE001 - a broken release must be reported, not crash
        reason = str(exc).splitlines()[0] if str(exc) else ""
        _refuse(ctx, [f"the release does not build: {type(exc).__name__}: {reason}"])
    names = ", ".join(f"{m.prefix or '/'} -> {m.app}" for m in gateway.mounts)
    profiles = {app.config["PROFILE"] for app in gateway.apps.values()}
    click.echo(f"ok: {', '.join(sorted(profiles))} profile, {names}")


@main.command()
@click.pass_context
def secrets(ctx: click.Context) -> None:
    """Generate the secrets and API token into the data dir (once) and print where."""
    source, _ = resolve_source(ctx.obj)
    click.echo(ensure_secrets(data_dir(source)))


@main.command("cache-stats")
@click.option(
    "--url",
    default=lambda: f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '8080')}",
    help="The running gateway (default: http://127.0.0.1:$GATEWAY_PORT).",
)
@click.pass_context
def cache_stats(ctx: click.Context, url: str) -> None:
    """Hits, misses, sets and errors per app, from a running gateway's health answer.

    Counters belong to the worker process that answered (its pid is printed).
    """
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/_gateway/health", timeout=5) as answer:
            body = json.load(answer)
    except urllib.error.HTTPError as exc:  # 503 still carries the JSON body
        body = json.load(exc)
    except OSError as exc:
        click.echo(f"error: {url} does not answer: {exc}", err=True)
        ctx.exit(1)
    cache = body["cache"]
    click.echo(f"store: {cache['status']} ({cache.get('store', 'no response cache')})")
    rows = [("NAMESPACE", "HITS", "MISSES", "SETS", "ERRORS", "TOO_BIG")]
    for name, c in sorted(cache.get("namespaces", {}).items()):
        rows.append((name, *(str(c[k]) for k in ("hits", "misses", "sets", "errors", "too_big"))))
    _table(rows)
    click.echo(f"(worker pid {cache.get('pid', '?')})")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.pass_context
def run(ctx: click.Context, host: str, port: int) -> None:
    """Serve the composed gateway with Werkzeug's reloader and debugger (development)."""
    source, _ = resolve_source(ctx.obj)
    ensure_secrets(data_dir(source))
    gateway = _build(ctx)
    use_debugger = any(app.config["USE_DEBUGGER"] for app in gateway.apps.values())
    # run_simple wraps DebuggedApplication around the whole WSGI callable; `flask run`
    # cannot serve a DispatcherMiddleware.
    run_simple(host, port, gateway, use_reloader=True, use_debugger=use_debugger, threaded=True)


if __name__ == "__main__":
    main()
