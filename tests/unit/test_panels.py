"""The toolbar's gateway panels (gateway.devtools.panels), in-process, and the toolbar's absence in
production.

Pages are fetched through the composed WSGI callable with the development profile, from
127.0.0.1 (the toolbar's DEBUG_TB_HOSTS), and each panel's HTML is read back with
``html.parser``: what a browser would show, entities decoded.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from jinja2 import TemplateNotFound
from markupsafe import Markup

from gateway.cli import main
from gateway.compose import Gateway, build_gateway
from gateway.devtools.inventory import EXTENSION_KEY as INVENTORY_KEY
from gateway.devtools.inventory import Inventory, MountRow, RouteRow
from gateway.devtools.panels import CachePanel, GatewayPanel, RoutesPanel, redact_url
from gateway.factory import create_app
from gateway.settings import GATEWAY_PANELS, ConfigError
from tests.support.client import Client
from tests.support.http import HTML
from tests.support.settings import TOOLBAR_PATHS, make_settings, production

LOCAL = {"REMOTE_ADDR": "127.0.0.1"}
PANEL_IDS = ("flDebugGatewayPanel", "flDebugCachePanel", "flDebugGatewayRoutesPanel")


class Tables(HTMLParser):
    """Every table row (cell texts), ``<p>`` text and emphasised row of some HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.marked: list[list[str]] = []
        self.paragraphs: list[str] = []
        self._cell: list[str] | None = None
        self._para: list[str] | None = None
        self._row_marked = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
            self._row_marked = ("aria-current", "true") in attrs
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "p":
            self._para = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row_marked:
            self.marked.append(self.rows[-1])
        elif tag == "p" and self._para is not None:
            self.paragraphs.append("".join(self._para))
            self._para = None

    def handle_data(self, data: str) -> None:
        for part in (self._cell, self._para):
            if part is not None:
                part.append(data)


def panel_html(page: str, dom_id: str) -> str:
    """The content of panel ``dom_id`` in a page carrying the toolbar."""
    start = page.index(">", page.index(f'id="{dom_id}-content"'))
    # Up to the next panel's container (or the toolbar's closing window).
    end = page.index('class="flDebugPanelContentParent"', start)
    return page[start:end]


def parse(html: str) -> Tables:
    tables = Tables()
    tables.feed(html)
    return tables


def pairs(html: str) -> dict[str, str]:
    """The two-column rows of ``html`` as a dict (first occurrence wins)."""
    found: dict[str, str] = {}
    for row in parse(html).rows:
        if len(row) == 2:
            found.setdefault(row[0], row[1])
    return found


@pytest.fixture
def dev(tmp_path: Path) -> Gateway:
    return build_gateway(make_settings(tmp_path, GATEWAY_PROFILE="development"))


@pytest.fixture
def dev_client(dev: Gateway) -> Client:
    return Client(dev)


def toolbar_page(client: Client, path: str, **kwargs: Any) -> str:
    """A page with the toolbar, as text; fails when the toolbar is not on it."""
    kwargs.setdefault("headers", HTML)
    environ = {**LOCAL, **kwargs.pop("environ_overrides", {})}
    response = client.get(path, environ_overrides=environ, **kwargs)
    text = response.get_data(as_text=True)
    assert 'id="flDebug"' in text, (path, response.status)
    return text


# -- listed for both apps ----------------------------------------------------------------


def test_development_lists_the_gateway_panels_on_both_apps(
    dev: Gateway, dev_client: Client
) -> None:
    for app in dev.apps.values():
        assert set(GATEWAY_PANELS) <= set(app.config["DEBUG_TB_PANELS"])
        # The stock panels stay too.
        assert (
            "flask_debugtoolbar.panels.route_list.RouteListDebugPanel"
            in (app.config["DEBUG_TB_PANELS"])
        )
    for path in ("/", "/backend/"):
        page = toolbar_page(dev_client, path)
        for dom_id in PANEL_IDS:
            assert f'id="{dom_id}-content"' in page, (path, dom_id)


# -- Gateway panel -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "app", "script_name", "path_info"),
    [
        ("/", "frontend_app", "", "/"),
        ("/extensions/flask-login", "frontend_app", "", "/extensions/flask-login"),
        ("/backend/", "backend_app", "/backend", "/"),
        ("/backend/api/extensions", "backend_app", "/backend", "/api/extensions"),
        # Not under /backend: segment boundaries only; the site's 404 page.
        ("/backendx", "frontend_app", "", "/backendx"),
    ],
)
def test_gateway_panel_shows_what_the_serving_app_saw(
    dev_client: Client, path: str, app: str, script_name: str, path_info: str
) -> None:
    page = toolbar_page(dev_client, path, headers={**HTML, "X-Request-ID": "trace-0001.a:b"})
    html = panel_html(page, "flDebugGatewayPanel")
    seen = pairs(html)
    assert seen["Served by"] == app
    assert seen["SCRIPT_NAME"] == script_name
    assert seen["PATH_INFO"] == path_info
    assert seen["X-Request-ID"] == "trace-0001.a:b"
    tables = parse(html)
    assert ["/", "frontend_app", "development", "frontend"] in tables.rows
    assert ["/backend", "backend_app", "development", "backend"] in tables.rows
    assert [row[1] for row in tables.marked] == [app]
    assert f"{app} at {script_name or '/'}" in page  # the toolbar's subtitle


def test_gateway_panel_shows_the_id_the_middleware_generated(dev_client: Client) -> None:
    hostile = "<script>alert(1)</script>"
    response = dev_client.get("/", headers={**HTML, "X-Request-ID": hostile}, environ_base=LOCAL)
    page = response.get_data(as_text=True)
    shown = pairs(panel_html(page, "flDebugGatewayPanel"))["X-Request-ID"]
    assert shown == response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", shown)
    assert hostile not in page


@pytest.mark.parametrize(
    "path_info",
    [
        "/<script>alert(1)</script>",
        "/x/\"'><img src=x onerror=alert(1)>",
        "/search/</td></tr></table><h1>owned",
        "/%3Cb%3E&amp;",
    ],
    ids=["script", "attribute", "table-break", "entities"],
)
def test_panels_escape_a_hostile_path(dev_client: Client, path_info: str) -> None:
    page = toolbar_page(dev_client, "/", environ_overrides={"PATH_INFO": path_info})
    for dom_id in PANEL_IDS:
        html = panel_html(page, dom_id)
        assert "<script>" not in html and "<img" not in html and "<h1>" not in html
        assert "<b>" not in html
    # Shown as text, the way the app saw it.
    seen = pairs(panel_html(page, "flDebugGatewayPanel"))
    assert seen["SCRIPT_NAME"] + seen["PATH_INFO"] == path_info
    # And nowhere else on the page (the stock panels escape too).
    assert "<script>alert(1)" not in page and "<img src=x" not in page and "<h1>owned" not in page


def test_gateway_panel_reads_a_path_that_is_not_utf8(dev_client: Client) -> None:
    # WSGI carries the raw bytes as latin-1: b"/caf\xc3\xa9" is "/café", b"/\xff" is not UTF-8.
    page = toolbar_page(dev_client, "/", environ_overrides={"PATH_INFO": "/caf\xc3\xa9/\xff"})
    assert pairs(panel_html(page, "flDebugGatewayPanel"))["PATH_INFO"] == "/café/\ufffd"


# -- Cache panel ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "namespace"),
    [("/", "frontend"), ("/backend/", "backend"), ("/backend/api/extensions", "backend")],
)
def test_cache_panel_names_the_toolbar_rule(
    dev_client: Client, tmp_path: Path, path: str, namespace: str
) -> None:
    page = toolbar_page(dev_client, path)
    html = panel_html(page, "flDebugCachePanel")
    assert pairs(html)["GATEWAY_CACHE_URL"] == f"simple://{tmp_path.name}"
    paragraphs = parse(html).paragraphs
    assert paragraphs[0] == "None: the store was bypassed, because this app runs the debug toolbar."
    assert paragraphs[-1] == "Not shared, refused by the rule: the debug toolbar is on this page."
    assert "bypassed, not shared" in page  # the toolbar's subtitle
    # The key this URL has in the store, in its app's namespace.
    assert re.fullmatch(rf"This URL's key: {namespace}:[0-9a-f]{{64}}", paragraphs[1])


def test_cache_panel_keys_differ_between_the_apps_roots(dev_client: Client) -> None:
    keys = {
        parse(panel_html(toolbar_page(dev_client, path), "flDebugCachePanel")).paragraphs[1]
        for path in ("/", "/backend/", "/")
    }
    assert len(keys) == 2


def test_cache_panel_says_when_the_response_cache_is_off(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, GATEWAY_PROFILE="development", GATEWAY_RESPONSE_CACHE="false"
    )
    page = toolbar_page(Client(build_gateway(settings)), "/")
    html = panel_html(page, "flDebugCachePanel")
    assert pairs(html)["Response cache"] == "off (GATEWAY_RESPONSE_CACHE=false)"
    assert "No operations: the response cache is off." in parse(html).paragraphs


def render_cache_panel(app: Flask, trace: dict[str, Any] | None, refusal: str | None) -> str:
    """The Cache panel's content for a made-up trace, in a request of ``app``."""
    with app.test_request_context("/"):
        panel = CachePanel(jinja_env=None)
        panel.trace, panel.refusal = trace, refusal
        return panel.content() + "\n" + panel.nav_subtitle()


def test_cache_panel_lists_reads_and_writes_escaped(dev: Gateway) -> None:
    key = "frontend:<img src=x onerror=alert(1)>"
    trace = {
        "store": "redis://:hunter2@cache.internal:6379/0",
        "ops": [
            {"op": "get", "key": key, "result": "miss"},
            {"op": "set", "key": key, "result": "not stored: Cache-Control: private"},
            "not a dict: skipped",
        ],
        "bypass": None,
    }
    html = render_cache_panel(dev.apps[""], trace, None)
    assert "<img" not in html and "hunter2" not in html
    tables = parse(html)
    assert ["get", key, "miss"] in tables.rows
    assert ["set", key, "not stored: Cache-Control: private"] in tables.rows
    assert ["Page store", "redis://:***@cache.internal:6379/0"] in tables.rows
    assert "Shared: the app marked it public." in tables.paragraphs
    assert html.endswith("miss, shared")

    hit = {"store": "simple", "ops": [{"op": "get", "key": "k", "result": "hit"}], "bypass": None}
    refused = render_cache_panel(dev.apps["/backend"], hit, "the answer sets a <cookie>")
    assert "Not shared, refused by the rule: the answer sets a <cookie>." in (
        parse(refused).paragraphs
    )
    assert "&lt;cookie&gt;" in refused and refused.endswith("hit, not shared")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("simple", "simple"),
        ("uwsgi://gateway", "uwsgi://gateway"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@10.0.0.5:6380/2", "redis://:***@10.0.0.5:6380/2"),
        ("redis://user:s3cret@redis/0", "redis://user:***@redis/0"),
    ],
)
def test_store_url_never_shows_a_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


# -- Routes panel --------------------------------------------------------------------


def test_routes_panel_shows_the_table_of_gateway_routes(
    dev_client: Client, runner: CliRunner, tmp_path: Path
) -> None:
    page = toolbar_page(dev_client, "/backend/api/extensions/flask-login")
    tables = parse(panel_html(page, "flDebugGatewayRoutesPanel"))
    panel_rows = [(r[0], r[1].replace(", ", ","), r[2], r[3]) for r in tables.rows[1:]]
    assert tables.marked == [
        ["/backend/api/extensions/<slug>", "GET", "api.extension", "backend_app"]
    ]

    settings = make_settings(tmp_path, GATEWAY_PROFILE="development")
    result = runner.invoke(main, ["routes"], obj=settings)
    assert result.exit_code == 0, result.output
    cli_rows = [tuple(line.split()) for line in result.output.splitlines()[1:]]
    assert panel_rows == cli_rows
    assert {row[3] for row in panel_rows} == {"frontend_app", "backend_app", "gateway"}


def test_panels_work_in_an_app_built_alone(tmp_path: Path) -> None:
    app = create_app("backend_app", make_settings(tmp_path, GATEWAY_PROFILE="development"))
    with app.test_request_context("/backend/healthz", base_url="http://localhost/backend"):
        gateway_html = GatewayPanel(jinja_env=None).content()
        routes = RoutesPanel(jinja_env=None)
        routes_html = routes.content()
    assert "built alone, outside a gateway" in gateway_html
    assert ["/backend/healthz", "GET", "api.healthz", "backend_app"] in parse(routes_html).rows


# -- every field escaped, whatever its source -------------------------------------------

# Markup that would break out of a cell, an attribute or an entity if it were not escaped.
HOSTILE = "<img src=x onerror=alert(1)></td>&amp;\"'"


@pytest.fixture
def hostile_app(tmp_path: Path) -> Flask:
    """An app built alone whose store URL and inventory carry markup in every field."""
    app = create_app("backend_app", make_settings(tmp_path, GATEWAY_PROFILE="development"))
    app.config["CACHE_URL"] = HOSTILE
    app.extensions[INVENTORY_KEY] = Inventory(
        (MountRow(HOSTILE, HOSTILE, HOSTILE, HOSTILE),),
        (RouteRow(HOSTILE, (HOSTILE,), HOSTILE, HOSTILE),),
    )
    return app


def assert_shown_as_text(html: str, rows: int) -> Tables:
    """``html`` holds HOSTILE only as text: no tag of it, and ``rows`` rows made of it."""
    assert "<img" not in html and "&amp;amp;" in html
    tables = parse(html)
    assert sum(set(row) == {HOSTILE} for row in tables.rows) == rows, tables.rows
    return tables


def test_gateway_and_routes_panels_escape_every_field(hostile_app: Flask) -> None:
    with hostile_app.test_request_context("/"):
        gateway = GatewayPanel(jinja_env=None)
        keys = ("app", "prefix", "profile", "namespace", "script_name", "path_info")
        gateway.seen = {key: HOSTILE for key in (*keys, "request_id")}
        gateway_html = gateway.content()
        routes = RoutesPanel(jinja_env=None)
        routes.matched = (HOSTILE, HOSTILE)
        routes_html = routes.content()
    tables = assert_shown_as_text(gateway_html, rows=1)
    assert all(row[1] == HOSTILE for row in tables.rows[1:8])  # "This request"
    assert tables.marked == [[HOSTILE] * 4]  # the mount row of the serving app
    assert assert_shown_as_text(routes_html, rows=1).marked == [[HOSTILE] * 4]


def test_cache_panel_escapes_every_field(hostile_app: Flask) -> None:
    with hostile_app.test_request_context("/"):
        panel = CachePanel(jinja_env=None)
        op = {"op": HOSTILE, "key": HOSTILE, "result": HOSTILE}
        panel.trace = {"store": HOSTILE, "ops": [op]}
        panel.refusal = HOSTILE
        with_ops = panel.content()
        panel.trace, panel.key = {"store": "simple", "ops": [], "bypass": HOSTILE}, HOSTILE
        bypassed = panel.content()
    tables = assert_shown_as_text(with_ops, rows=1)
    assert ["GATEWAY_CACHE_URL", HOSTILE] in tables.rows and ["Page store", HOSTILE] in tables.rows
    assert tables.paragraphs == [f"Not shared, refused by the rule: {HOSTILE}."]
    assert parse(bypassed).paragraphs[:2] == [
        f"None: the store was bypassed, because {HOSTILE}.",
        f"This URL's key: {HOSTILE}",
    ]
    assert "<img" not in bypassed


def test_panels_do_not_trust_markup_objects(hostile_app: Flask) -> None:
    # A value that claims to be safe HTML (``__html__``) is shown as text all the same.
    trusted = Markup(HOSTILE)
    with hostile_app.test_request_context("/"):
        cache = CachePanel(jinja_env=None)
        cache.trace = {"store": trusted, "ops": [{"op": trusted, "key": trusted}]}
        cache.refusal = trusted
        gateway = GatewayPanel(jinja_env=None)
        gateway.seen = {"app": trusted, "path_info": trusted}
        html = cache.content() + gateway.content()
    assert "<img" not in html
    rows = parse(html).rows
    assert ["Page store", HOSTILE] in rows and ["PATH_INFO", HOSTILE] in rows


def test_panel_templates_stay_out_of_the_apps_template_lookup(dev: Gateway) -> None:
    # The panels have their own environment: the apps' templates resolve as before.
    for app in dev.apps.values():
        with pytest.raises(TemplateNotFound):
            app.jinja_env.get_template("panels/gateway.html")


# -- a missing secret in development is one line, not flask-debugtoolbar's traceback ----


def test_toolbar_without_a_secret_is_one_line(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, GATEWAY_PROFILE="development", FRONTEND_SECRET_KEY="")
    with pytest.raises(ConfigError) as raised:
        build_gateway(settings)
    assert raised.value.problems == [
        "FRONTEND: the debug toolbar needs FRONTEND_SECRET_KEY: "
        "run `gateway secrets` (or `make dev`) first"
    ]


# -- production: no toolbar, no debugger -------------------------------------------------


@pytest.fixture
def prod(tmp_path: Path) -> Gateway:
    return build_gateway(production(tmp_path))


@pytest.mark.parametrize("path", TOOLBAR_PATHS)
def test_production_has_no_toolbar_routes(prod: Gateway, path: str) -> None:
    response = Client(prod).get(path, base_url="http://localhost", environ_base=LOCAL)
    assert response.status_code == 404
    assert "toolbar" not in response.get_data(as_text=True).lower()


def filled(path: str) -> str:
    """A route's public path with its variables filled in with values that exist."""
    values = {
        "slug": "flask-login",
        "path:filename": "style.css" if not path.startswith("/backend") else "api.css",
    }
    return re.sub(r"<([^>]+)>", lambda m: values[m.group(1)], path)


def test_production_pages_carry_no_toolbar_markup(prod: Gateway) -> None:
    client = Client(prod)
    gets = [r.path for r in prod.inventory.routes if "GET" in r.methods]
    assert not [p for p in gets if "_debug_toolbar" in p]
    # Every GET route, an unknown page of each app, and a page of a category that is not.
    paths = [filled(p) for p in gets] + ["/nowhere", "/backend/nowhere", "/category/none"]
    assert len(paths) > 10
    for path in paths:
        response = client.get(path, headers=HTML, base_url="http://localhost", environ_base=LOCAL)
        text = response.get_data(as_text=True)
        assert response.status_code < 500, path
        assert "flDebug" not in text and "_debug_toolbar" not in text, path


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        ({"FRONTEND_DEBUG_TB_ENABLED": "true"}, "error: FRONTEND: the debug toolbar is enabled"),
        ({"GATEWAY_DEBUG_TB_ENABLED": "true"}, "error: BACKEND: the debug toolbar is enabled"),
        ({"BACKEND_USE_DEBUGGER": "true"}, "error: BACKEND: the Werkzeug debugger is enabled"),
        ({"GATEWAY_DEBUG": "true"}, "error: FRONTEND: DEBUG is on"),
    ],
)
def test_check_refuses_the_toolbar_and_the_debugger_in_production(
    runner: CliRunner, tmp_path: Path, overrides: dict[str, str], line: str
) -> None:
    settings = production(tmp_path, **overrides)
    result = runner.invoke(main, ["check"], obj=settings)
    assert result.exit_code == 1
    assert any(out.startswith(line) for out in result.output.splitlines()), result.output
    with pytest.raises(ConfigError):
        build_gateway(settings)


def test_panels_escape_names_from_the_mount_table(tmp_path: Path) -> None:
    # The mount table is data (GATEWAY_MOUNTS): its namespaces reach the panels as text.
    rows = (
        '[{"prefix": "", "app": "frontend_app", "namespace": "<i>site</i>"},'
        ' {"prefix": "/backend", "app": "backend_app", "namespace": "api\\"><b>x</b>"}]'
    )
    settings = make_settings(tmp_path, GATEWAY_PROFILE="development", GATEWAY_MOUNTS=rows)
    page = toolbar_page(Client(build_gateway(settings)), "/")
    gateway_html = panel_html(page, "flDebugGatewayPanel")
    cache_html = panel_html(page, "flDebugCachePanel")
    for html in (gateway_html, cache_html):
        assert "<i>" not in html and "<b>" not in html
    assert ["/backend", "backend_app", "development", 'api"><b>x</b>'] in parse(gateway_html).rows
    assert pairs(gateway_html)["Cache namespace"] == "<i>site</i>"
    assert parse(cache_html).paragraphs[1].startswith("This URL's key: <i>site</i>:")


# -- the stock SQLAlchemy panel ---------------------------------------------------------


def panel_text(page: str, dom_id: str) -> str:
    """Panel ``dom_id``'s text as a browser shows it (SQL is highlighted in many spans)."""
    text = unescape(re.sub(r"<[^>]+>", "", panel_html(page, dom_id)))
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "FROM categories"),
        ("/category/orm", "FROM extensions"),
        ("/backend/api/extensions", "FROM extensions"),
        ("/backend/api/extensions/flask-login", "FROM extensions"),
    ],
)
def test_the_sqlalchemy_panel_shows_each_pages_queries_on_both_apps(
    dev_client: Client, path: str, expected: str
) -> None:
    page = toolbar_page(dev_client, path)
    assert re.search(r"SQLAlchemy\s*<br /><small>[1-9]\d* quer", page), "no queries counted"
    assert expected in panel_text(page, "flDebugSQLAlchemyPanel")
    # Another page shows its own queries, not the previous page's as well.
    other = panel_text(
        toolbar_page(dev_client, "/backend/api/categories"), "flDebugSQLAlchemyPanel"
    )
    assert "extension_count" in other and "LIMIT" not in other


@pytest.mark.integration
def test_no_panel_shows_the_database_password(tmp_path: Path, postgres_url: str) -> None:
    password = postgres_url.split(":")[2].split("@")[0]
    settings = make_settings(
        tmp_path, GATEWAY_PROFILE="development", GATEWAY_DATABASE_URL=postgres_url
    )
    client = Client(build_gateway(settings))
    for path in ("/", "/backend/api/extensions"):
        page = toolbar_page(client, path)
        assert "flDebugConfigVarsPanel" in page and "flDebugSQLAlchemyPanel" in page
        assert password not in page and "gateway:***@127.0.0.1" in page
