"""flask-debugtoolbar panels that see the whole gateway, where the stock ones see one app.

The development profile lists them for every app (``DEBUG_TB_PANELS``, gateway.settings):

- ``GatewayPanel``: the mount table, which app served this request, ``SCRIPT_NAME`` and
  ``PATH_INFO`` as that app saw them, and the request id;
- ``CachePanel``: this request's reads and writes of the shared store (the response
  cache's trace in ``environ["gateway.cache"]``), whether the app would let the answer
  be shared and, if not, the rule that refused it, and the store in use;
- ``RoutesPanel``: every route of every mounted app under its public path.

Each is shaped like the toolbar's own panels: ``content()`` renders a template of
``templates/panels/`` beside this module. The toolbar inserts ``content()`` unescaped, so
the templates escape: their environment autoescapes, and the panels hand it every value
as a plain ``str``::

    DEBUG_TB_PANELS = (*STOCK_PANELS, "gateway.devtools.panels.GatewayPanel", ...)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from flask import Response as FlaskResponse
from flask import current_app, request
from flask_debugtoolbar.panels import DebugPanel
from jinja2 import Environment, PackageLoader, StrictUndefined
from werkzeug import Request, Response

from gateway.cache.middleware import EXTENSION_KEY as CACHE_KEY
from gateway.cache.middleware import TRACE_KEY, Requested, ResponseCache
from gateway.cache.policy import share_refusal
from gateway.devtools.inventory import EXTENSION_KEY as INVENTORY_KEY
from gateway.devtools.inventory import Inventory, route_table
from gateway.http.request_id import HEADER, current_request_id

# The panels' own environment: the toolbar's sees only the toolbar's templates and each
# app's sees only the app's, and neither needs to learn of these. Autoescaping is set here
# rather than inherited from the toolbar, because every value shown may come from a request.
TEMPLATES = Environment(
    loader=PackageLoader("gateway.devtools"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _text(value: object) -> str:
    """``value`` as a plain ``str``: a ``Markup`` would pass autoescaping as trusted HTML."""
    return str(value)


def _rows(rows: Iterable[Iterable[object]]) -> list[tuple[str, ...]]:
    """Table rows with every cell as plain text (see ``_text``)."""
    return [tuple(_text(value) for value in row) for row in rows]


def _wsgi_text(value: str) -> str:
    """A WSGI path string (bytes as latin-1) as the UTF-8 text Werkzeug reads from it."""
    return value.encode("latin-1", "replace").decode("utf-8", "replace")


def _mount_root() -> str:
    """The prefix the current app is mounted at ("/" for the default app)."""
    return str(current_app.config.get("APPLICATION_ROOT") or "/")


def _inventory() -> Inventory:
    """The gateway's tables; an app built alone (no ``Gateway``) lists only itself."""
    found = current_app.extensions.get(INVENTORY_KEY)
    if isinstance(found, Inventory):
        return found
    prefix = _mount_root().rstrip("/")
    return Inventory((), route_table({prefix: current_app}))


def redact_url(url: str) -> str:
    """``url`` without its password (``redis://:secret@host`` shows ``redis://:***@host``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class InlinePanel(DebugPanel):
    """A panel shown in the toolbar itself (no page of its own), rendered from ``TEMPLATES``."""

    has_content = True

    def __init__(
        self, jinja_env: Environment | None, context: dict[str, Any] | None = None
    ) -> None:
        # The toolbar hands over its own environment, which cannot find our templates.
        super().__init__(TEMPLATES, context)

    def url(self) -> str:
        """No separate page: the content is inline."""
        return ""


class GatewayPanel(InlinePanel):
    """Where this request went: the mount table and the app that served it."""

    name = "Gateway"

    def __init__(
        self, jinja_env: Environment | None, context: dict[str, Any] | None = None
    ) -> None:
        super().__init__(jinja_env, context)
        self.seen: dict[str, str] = {}

    def nav_title(self) -> str:
        """The toolbar's label."""
        return "Gateway"

    def nav_subtitle(self) -> str:
        """Which app served this request, at which prefix."""
        return f"{self.seen.get('app', '?')} at {self.seen.get('prefix', '?')}"

    def title(self) -> str:
        """The panel's heading (rendered unescaped: a constant)."""
        return "Gateway: mounts and this request"

    def process_request(self, request: Request) -> None:
        """Note what the serving app sees before its view runs."""
        environ = request.environ
        self.seen = {
            "app": current_app.name,
            "prefix": _mount_root(),
            "profile": str(current_app.config.get("PROFILE", "?")),
            "namespace": str(current_app.config.get("CACHE_NAMESPACE", "?")),
            "script_name": _wsgi_text(environ.get("SCRIPT_NAME", "")),
            "path_info": _wsgi_text(environ.get("PATH_INFO", "")),
            # The middleware rewrote the header to the id it kept or generated.
            "request_id": request.headers.get(HEADER) or current_request_id.get(),
        }

    def content(self) -> str:
        """This request as the serving app saw it, then the whole mount table."""
        seen = self.seen
        this_request = [
            ("Served by", seen.get("app", "?")),
            ("Mount prefix", seen.get("prefix", "?")),
            ("Profile", seen.get("profile", "?")),
            ("Cache namespace", seen.get("namespace", "?")),
            ("SCRIPT_NAME", seen.get("script_name", "")),
            ("PATH_INFO", seen.get("path_info", "")),
            (HEADER, seen.get("request_id", "-")),
        ]
        mounts = _inventory().mounts
        served = next((i for i, m in enumerate(mounts) if m.app == seen.get("app")), None)
        return self.render(
            "panels/gateway.html",
            {
                "this_request": _rows(this_request),
                "mounts": _rows((m.shown_prefix, m.app, m.profile, m.namespace) for m in mounts),
                "served": served,
            },
        )


class CachePanel(InlinePanel):
    """The shared store on this request: reads and writes, and whether it may be shared."""

    name = "Cache"

    def __init__(
        self, jinja_env: Environment | None, context: dict[str, Any] | None = None
    ) -> None:
        super().__init__(jinja_env, context)
        self.trace: dict[str, Any] | None = None
        self.refusal: str | None = None
        self.key: str | None = None

    def nav_title(self) -> str:
        """The toolbar's label."""
        return "Shared cache"

    def nav_subtitle(self) -> str:
        """Hit, miss or bypass, and whether this answer would be shared."""
        results = [str(op.get("result", "?")) for op in self._ops() if op.get("op") == "get"]
        read = results[0] if results else ("bypassed" if self._bypass() else "not used")
        return f"{read}, {'not shared' if self.refusal else 'shared'}"

    def title(self) -> str:
        """The panel's heading (rendered unescaped: a constant)."""
        return "Shared cache: this request"

    def _ops(self) -> list[dict[str, Any]]:
        """The store operations traced so far (the trace is shared with the middleware)."""
        ops = (self.trace or {}).get("ops") or []
        return [op for op in ops if isinstance(op, dict)]

    def _bypass(self) -> str | None:
        """Why the response cache did not use the store for this request, if it did not."""
        reason = (self.trace or {}).get("bypass")
        return str(reason) if reason else None

    def process_request(self, request: Request) -> None:
        """Keep the response cache's trace of this request (None: the cache is off)."""
        trace = request.environ.get(TRACE_KEY)
        self.trace = trace if isinstance(trace, dict) else None
        # The key the cache gives this URL, to show also when it bypassed the store.
        cache = current_app.extensions.get(CACHE_KEY)
        if isinstance(cache, ResponseCache):
            requested = Requested(*cache.asked(request.environ))
            self.key = cache.key(cache.route_of(requested.path or "/"), requested)

    def process_response(self, req: Request, response: Response) -> None:
        """Ask the app's own sharing rule about the answer about to leave."""
        # The toolbar hands Flask's own request and response, typed as Werkzeug's.
        self.refusal = share_refusal(request, cast(FlaskResponse, response))

    def content(self) -> str:
        """The store, the response cache's operations, and the app's sharing decision."""
        store = [("GATEWAY_CACHE_URL", redact_url(str(current_app.config.get("CACHE_URL", "?"))))]
        if self.trace is None:
            store.append(("Response cache", "off (GATEWAY_RESPONSE_CACHE=false)"))
        else:
            store.append(("Page store", redact_url(str(self.trace.get("store", "?")))))
        ops = [(op.get("op", "?"), op.get("key", ""), op.get("result", "?")) for op in self._ops()]
        return self.render(
            "panels/cache.html",
            {
                "store": _rows(store),
                "ops": _rows(ops),
                "cache_on": self.trace is not None,
                "bypass": _text(self._bypass() or "no operation was traced"),
                "key": _text(self.key or ""),
                "refusal": _text(self.refusal or ""),
            },
        )


class RoutesPanel(InlinePanel):
    """Every route of every mounted app, where the stock Route List knows one app."""

    name = "GatewayRoutes"

    def __init__(
        self, jinja_env: Environment | None, context: dict[str, Any] | None = None
    ) -> None:
        super().__init__(jinja_env, context)
        self.matched: tuple[str, str] | None = None

    def nav_title(self) -> str:
        """The toolbar's label."""
        return "All routes"

    def nav_subtitle(self) -> str:
        """How many routes, in how many apps."""
        routes = _inventory().routes
        return f"{len(routes)} routes, {len({r.app for r in routes})} apps"

    def title(self) -> str:
        """The panel's heading (rendered unescaped: a constant)."""
        return "Routes of every mounted app"

    def process_request(self, req: Request) -> None:
        """Note the rule that matched, to mark its row."""
        rule = request.url_rule
        if rule is not None:
            root = _mount_root().rstrip("/")
            self.matched = (root + rule.rule, current_app.name)

    def content(self) -> str:
        """The route table of ``gateway routes``."""
        routes = _inventory().routes
        rows = [(r.path, ", ".join(r.methods), r.endpoint, r.app) for r in routes]
        mark = next((i for i, r in enumerate(routes) if (r.path, r.app) == self.matched), None)
        return self.render("panels/routes.html", {"routes": _rows(rows), "matched": mark})
