"""The ``gateway`` console script: routes, mounts, check, db, run, secrets, cache-stats,
nginx-values, render.

Every command reads its configuration from the environment (and the generated secrets
file), like uWSGI does. Tests hand a mapping as click's ``obj`` instead.

A fresh checkout has no secrets yet. In the development and testing profiles every
command generates them first (``gateway.secret_file``, as ``make dev`` does): they are
local, throwaway and git-ignored, and building without them (or without the toolbar
that needs them) would show another gateway than the one ``make dev`` serves. In
production nothing is invented: the command refuses, one line per problem, and says
what to run. No command ends in a traceback for a configuration or environment problem.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click
from flask import Config, Flask
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.serving import run_simple

from gateway.build_id import REPO_ROOT
from gateway.cache.backends import check_cache_url
from gateway.compose import Gateway, build_gateway
from gateway.factory import create_app
from gateway.mounts import load_mounts
from gateway.nginx import site_values
from gateway.render import parse_pairs, render
from gateway.secret_file import FILENAME, GENERATED, ensure_secrets, read_secrets
from gateway.settings import (
    PROFILES,
    ConfigError,
    data_dir,
    load_config,
    resolve_source,
    value_problems,
)

# The app package that owns the catalogue's database and migrations.
CATALOGUE_APP = "backend_app"


def _source(ctx: click.Context, profile: str | None = None) -> dict[str, Any]:
    """What to build from: the test's mapping or the environment, over the secrets file.

    Outside production, secrets that neither provides are generated into the data dir
    first. ``profile`` replaces the source's ``GATEWAY_PROFILE``.
    """
    base: dict[str, Any] = dict(ctx.obj if ctx.obj is not None else os.environ)
    if profile:
        base["GATEWAY_PROFILE"] = profile
    _, resolved = resolve_source(base)  # an unknown profile is refused here
    root = data_dir(base)
    if resolved != "production" and any(not base.get(key) for key in GENERATED):
        ensure_secrets(root)
    return {**read_secrets(root), **base}


def _refuse(ctx: click.Context, problems: Sequence[str]) -> NoReturn:
    """Exit 1 with one ``error:`` line per problem, and what to run when secrets lack."""
    # Each app reports a shared setting's problem; one line per problem is enough.
    for problem in dict.fromkeys(problems):
        click.echo(f"error: {problem}", err=True)
    if any(f"{key} is missing" in problem for key in GENERATED for problem in problems):
        source = ctx.obj if ctx.obj is not None else os.environ
        where = data_dir(source) / FILENAME
        click.echo(f"hint: `gateway secrets` generates the missing ones into {where}", err=True)
    ctx.exit(1)
    raise AssertionError("unreachable: ctx.exit raises")


def _build(ctx: click.Context, profile: str | None = None, **overrides: str) -> Gateway:
    """Build the gateway (``overrides`` win over the source); ConfigError is refused."""
    return build_gateway({**_source(ctx, profile), **overrides})


def _table(rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` as left-aligned columns, the first row being the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


class Commands(click.Group):
    """The command group; a configuration or environment problem is one line, exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, turning expected failures into ``error:`` lines."""
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            _refuse(ctx, exc.problems)
        except (OSError, sqlite3.Error) as exc:
            # An unwritable data dir, an unreadable catalogue: say which, not where in code.
            _refuse(ctx, [f"{type(exc).__name__}: {exc}"])
        except SQLAlchemyError as exc:
            _refuse(ctx, [f"the database does not answer: {_first_line(exc)}"])


def _first_line(exc: BaseException) -> str:
    """The first line of ``exc`` (SQLAlchemy appends the SQL and a link), no password."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return re.sub(r"(password=|://[^:/@]*:)[^@\s]*", r"\1***", line)


@click.group(cls=Commands)
def main() -> None:
    """Operate the gateway: the website at / and the JSON API at /backend."""


@main.command()
@click.pass_context
def routes(ctx: click.Context) -> None:
    """Every route of every mounted app, with its full public path."""
    rows = [("PATH", "METHODS", "ENDPOINT", "APP")]
    for route in _build(ctx).inventory.routes:
        rows.append((route.path, ",".join(route.methods), route.endpoint, route.app))
    _table(rows)


@main.command()
@click.pass_context
def mounts(ctx: click.Context) -> None:
    """The mount table: prefix, app, config profile, cache namespace."""
    gateway = _build(ctx)
    rows = [("PREFIX", "APP", "PROFILE", "NAMESPACE")]
    for mount in gateway.inventory.mounts:
        rows.append((mount.shown_prefix, mount.app, mount.profile, mount.namespace))
    _table(rows)
    url = gateway.apps[""].config["DATABASE_URL"]
    click.echo(f"database: {url.render_as_string(hide_password=True)}")


@main.command()
@click.option("--profile", type=click.Choice(PROFILES), help="Check this profile instead.")
@click.option(
    "--upgrade",
    is_flag=True,
    help="First migrate the database, as `gateway db upgrade` (one process for both).",
)
@click.pass_context
def check(ctx: click.Context, profile: str | None, upgrade: bool) -> None:
    """Build every app as it would serve; exit 1 with one line per problem."""
    if upgrade:
        ctx.invoke(upgrade_database)
    try:
        source, resolved = resolve_source(_source(ctx, profile))
        gateway = build_gateway({**_outside_uwsgi(source), "GATEWAY_PROFILE": resolved})
    except ConfigError as exc:
        _refuse(ctx, exc.problems)
    except SQLAlchemyError as exc:
        _refuse(ctx, [f"the database does not answer: {_first_line(exc)}"])
    except Exception as exc:  # noqa: BLE001 - a broken release must be reported, not crash
        reason = str(exc).splitlines()[0] if str(exc) else ""
        _refuse(ctx, [f"the release does not build: {type(exc).__name__}: {reason}"])
    _check_database(ctx, gateway)
    names = ", ".join(f"{m.prefix or '/'} -> {m.app}" for m in gateway.mounts)
    profiles = {app.config["PROFILE"] for app in gateway.apps.values()}
    click.echo(f"ok: {', '.join(sorted(profiles))} profile, {names}")


@main.command("nginx-values")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=REPO_ROOT,
    show_default="this code's folder",
    help="The code nginx serves static files and error pages from (@HOME@).",
)
@click.pass_context
def nginx_values(ctx: click.Context, home: Path) -> None:
    """The values nginx.conf takes from the settings and the mount table, as NAME=VALUE
    lines for `gateway render`."""
    source, profile = resolve_source(_source(ctx))
    mounts = load_mounts(source)
    default = next(m.app for m in mounts if m.prefix == "")
    config = Config(".")
    problems = load_config(config, default, source, profile, "")
    problems += value_problems(config)
    if problems:
        raise ConfigError(problems)
    for name, value in site_values(config, mounts, home).items():
        click.echo(f"{name}={value}")


@main.command("render")
@click.argument("template", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("values", nargs=-1)
def render_command(template: Path, dest: Path, values: tuple[str, ...]) -> None:
    """Write TEMPLATE to DEST with every @NAME@ replaced by the VALUE of a NAME=VALUE;
    refuses a placeholder left without one. Reads no settings."""
    render(template, dest, parse_pairs(values))


def _check_database(ctx: click.Context, gateway: Gateway) -> None:
    """Refuse a database that does not answer or is behind this release; warn (only) when
    this node's secrets differ from another live node's."""
    from backend_app.catalogue import schema

    backend = _catalogue_app(gateway)
    shown = backend.config["DATABASE_URL"].render_as_string(hide_password=True)
    try:
        with backend.app_context():
            state = schema.state()
            if state.status in ("behind", "foreign"):
                _refuse(ctx, [f"database {shown} is {state.describe()}"])
            peers = gateway.health.checks.peers
            report = peers() if peers else None
    except SQLAlchemyError as exc:
        _refuse(ctx, [f"database {shown} does not answer: {_first_line(exc)}"])
    for node, names in sorted((report or {}).get("differ", {}).items()):
        click.echo(
            f"warning: {', '.join(names)} of this node differ from node {node}'s"
            " (nodes sharing a database must share them; fine while rotating)",
            err=True,
        )


def _catalogue_app(gateway: Gateway) -> Flask:
    """The app that owns the catalogue and its migrations."""
    return next(app for app in gateway.apps.values() if app.name == CATALOGUE_APP)


def _outside_uwsgi(source: Mapping[str, Any]) -> dict[str, Any]:
    """``source`` with a cache this process can build: uWSGI's cache exists only inside
    uWSGI, so a command checks its name (``check_cache_url``) and uses a local store."""
    url = str(source.get("GATEWAY_CACHE_URL") or "simple")
    return {**source, "GATEWAY_CACHE_URL": check_cache_url(url)}


def _catalogue_alone(ctx: click.Context) -> Flask:
    """The catalogue's app built alone, as it would serve, without migrating on build."""
    source = {**_outside_uwsgi(_source(ctx)), "GATEWAY_DB_AUTO_UPGRADE": False}
    return create_app(CATALOGUE_APP, source, mounts=load_mounts(source))


def catalogue_app() -> Flask:
    """The API alone, with Flask-Migrate's own commands bound, for
    ``flask --app gateway.cli:catalogue_app db ...`` (e.g. ``db migrate`` to write a
    migration); ``gateway db`` covers what operators run."""
    from backend_app.catalogue import bind_migrate

    app = create_app(CATALOGUE_APP, os.environ, mounts=load_mounts(os.environ))
    bind_migrate(app)
    return app


@main.group("db")
def database() -> None:
    """The catalogue's schema: Alembic migrations through Flask-Migrate."""


@database.command("upgrade")
@click.pass_context
def upgrade_database(ctx: click.Context) -> None:
    """Migrate the database to this release's newest revision; seed an empty catalogue.

    A database already past it (the previous release, after a rollback) is left alone.
    """
    from backend_app.catalogue import schema

    app = _catalogue_alone(ctx)
    shown = app.config["DATABASE_URL"].render_as_string(hide_password=True)
    try:
        with app.app_context():
            done = schema.upgrade()
            after = schema.state()
    except schema.SchemaError as exc:
        _refuse(ctx, [f"database {shown}: {str(exc).splitlines()[0]}"])
    if done.applied:
        start = done.before.revision or "nothing"
        click.echo(f"database {shown}: upgraded from {start} to {done.applied[-1]}")
    else:
        click.echo(f"database {shown}: {after.describe()}; nothing to do")
    if done.seeded:
        click.echo(f"database {shown}: seeded the catalogue from the fixture")


@database.command()
@click.pass_context
def current(ctx: click.Context) -> None:
    """The database's revision beside this release's."""
    from backend_app.catalogue import schema

    app = _catalogue_alone(ctx)
    with app.app_context():
        state = schema.state()
    shown = app.config["DATABASE_URL"].render_as_string(hide_password=True)
    click.echo(f"database {shown}: {state.describe()}")


@database.command()
@click.pass_context
def history(ctx: click.Context) -> None:
    """This release's migrations, newest first."""
    from backend_app.catalogue import schema

    with _catalogue_alone(ctx).app_context():
        for line in schema.history():
            click.echo(line)


@main.command()
@click.pass_context
def secrets(ctx: click.Context) -> None:
    """Generate the secrets and API token into the data dir (once) and print where."""
    click.echo(ensure_secrets(data_dir(ctx.obj if ctx.obj is not None else os.environ)))


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
    except ValueError as exc:  # a malformed URL, or an answer that is not JSON
        click.echo(f"error: {url} is not a gateway's health answer: {exc}", err=True)
        ctx.exit(1)
    cache = body.get("cache") if isinstance(body, dict) else None
    if not isinstance(cache, dict):
        click.echo(f"error: {url}/_gateway/health has no cache section", err=True)
        ctx.exit(1)
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
    """Serve the composed gateway with Werkzeug's reloader and debugger (development).

    External URLs and the toolbar follow the address it listens on, unless
    ``GATEWAY_SERVER_NAME`` says otherwise.
    """
    source = ctx.obj if ctx.obj is not None else os.environ
    ensure_secrets(data_dir(source))
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    server_name = f"[{shown}]:{port}" if ":" in shown else f"{shown}:{port}"
    gateway = _build(ctx, GATEWAY_SERVER_NAME=source.get("GATEWAY_SERVER_NAME") or server_name)
    use_debugger = any(app.config["USE_DEBUGGER"] for app in gateway.apps.values())
    # run_simple wraps DebuggedApplication around the whole WSGI callable; `flask run`
    # cannot serve a DispatcherMiddleware.
    run_simple(host, port, gateway, use_reloader=True, use_debugger=use_debugger, threaded=True)


if __name__ == "__main__":
    main()
