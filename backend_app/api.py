"""The JSON API. Every GET also renders as a browsable HTML page for browsers.

Content negotiation: a client whose ``Accept`` prefers ``text/html`` over
``application/json`` (a browser) gets HTML, every other client JSON; both say
``Vary: Accept``. Writes take JSON and need ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Conflict, NotFound, Unauthorized

from backend_app import browse, catalogue, cursors
from backend_app.validation import validate_extension
from gateway.http.inputs import json_object, positive_int
from gateway.http.negotiation import preferred_type
from gateway.http.tokens import same_token

bp = Blueprint("api", __name__)
log = logging.getLogger(__name__)


def wants_html() -> bool:
    """True when the client prefers an HTML page to JSON (a browser)."""
    # The same rule keys the response cache's variants.
    return preferred_type(request.headers.get("Accept")) == "text/html"


def respond(payload: Any, template: str, status: int = 200, **context: Any) -> Response:
    """``payload`` as JSON, or as the browsable page ``template`` for a browser."""
    if wants_html():
        response = current_app.make_response(
            (
                render_template(
                    template,
                    payload=payload,
                    payload_json=json.dumps(payload, indent=2),
                    signed_in=browse.signed_in(),
                    **context,
                ),
                status,
            )
        )
    else:
        response = jsonify(payload)
        response.status_code = status
    response.vary.add("Accept")
    return response


def frontend_url(path: str) -> str:
    """A path on the website, wherever the mount table puts it."""
    return str(current_app.config["MOUNT_PREFIXES"]["frontend_app"]) + path


def represent(extension: dict[str, Any]) -> dict[str, Any]:
    """An extension as the API shows it, with its links."""
    slug = extension["slug"]
    return {
        **extension,
        "url": url_for("api.extension", slug=slug),
        "page": frontend_url(f"/extensions/{slug}"),
    }


def check_token() -> None:
    """Abort with 401 unless the request carries the API's bearer token."""
    expected = current_app.config.get("API_TOKEN")
    auth = request.authorization
    given = auth.token if auth is not None and auth.type == "bearer" else None
    if not same_token(given, expected):
        raise Unauthorized(
            "a valid 'Authorization: Bearer <token>' header is required",
            www_authenticate=WWWAuthenticate("bearer", {"realm": "api"}),
        )


def json_body() -> dict[str, Any]:
    """The request's JSON object: 415 if not JSON, 413 if too large, 400 if malformed."""
    if not request.is_json:
        abort(415, "the request body must be JSON (Content-Type: application/json)")
    return json_object(request.get_data(cache=False))  # 413 past MAX_CONTENT_LENGTH


def query_int(name: str, default: int, maximum: int) -> int:
    """A positive integer query argument up to ``maximum``; 400 when it is anything else."""
    return positive_int(request.args.get(name), name=name, default=default, maximum=maximum)


@bp.get("/")
def index() -> Response:
    """The API's endpoints and version."""
    endpoints = []
    for rule in current_app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.index":
            doc = (current_app.view_functions[rule.endpoint].__doc__ or "").strip()
            endpoints.append(
                {
                    "path": request.script_root + rule.rule,
                    "methods": sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}),
                    "description": doc.splitlines()[0] if doc else "",
                }
            )
    endpoints.sort(key=lambda e: (e["path"], e["methods"]))
    payload = {
        "name": "Flask extensions API",
        "version": current_app.config["API_VERSION"],
        "endpoints": endpoints,
    }
    return respond(payload, "api/index.html")


HEALTHY = b'{"status":"ok"}\n'


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the API process answers."""
    # A probe must reach the app, never a cached answer; its body never changes.
    return current_app.response_class(
        HEALTHY, mimetype="application/json", headers={"Cache-Control": "no-store"}
    )


@bp.get("/api/categories")
def categories() -> Response:
    """Every category with its number of extensions."""
    items = [
        {**c, "url": url_for("api.extensions", category=c["slug"])}
        for c in catalogue.list_categories()
    ]
    return respond({"items": items}, "api/categories.html")


@bp.get("/api/extensions")
def extensions() -> Response:
    """A page of extensions, filtered by category and text (q); ``after`` walks on."""
    config = current_app.config
    page = query_int("page", 1, config["MAX_PAGE"])
    per_page = query_int("per_page", config["PER_PAGE"], config["MAX_PER_PAGE"])
    category = request.args.get("category", "").strip() or None
    query = request.args.get("q", "").strip() or None
    if query and len(query) > config["MAX_QUERY_LENGTH"]:
        abort(400, f"q must be at most {config['MAX_QUERY_LENGTH']} characters")
    after_token = request.args.get("after")
    after = cursors.decode(after_token) if after_token is not None else None
    items, total = catalogue.list_extensions(
        category=category, query=query, page=page, per_page=per_page, after=after
    )
    pages = max(1, math.ceil(total / per_page))

    def link(number: int | None = None, cursor: str | None = None) -> str | None:
        if cursor is None and (number is None or not 1 <= number <= pages):
            return None
        where = {"after": cursor} if cursor is not None else {"page": number}
        args: dict[str, Any] = {"category": category, "q": query, **where, "per_page": per_page}
        return url_for("api.extensions", **{k: v for k, v in args.items() if v})

    # A full page may have a successor: its last row is where the next one starts.
    next_cursor = cursors.encode(items[-1]) if len(items) == per_page else None
    payload = {
        "items": [represent(item) for item in items],
        "page": None if after else page,
        "per_page": per_page,
        "total": total,
        "pages": pages,
        "filters": {"category": category, "q": query},
        "next_cursor": next_cursor,
        "links": {
            "self": link(cursor=after_token) if after else (link(page) or link(1)),
            "next": link(cursor=next_cursor) if after else link(page + 1),
            "prev": None if after else link(page - 1),
            "after": link(cursor=next_cursor),
        },
    }
    return respond(payload, "api/list.html", categories=catalogue.list_categories())


@bp.get("/api/extensions/<slug>")
def extension(slug: str) -> Response:
    """One extension."""
    found = catalogue.get_extension(slug)
    if found is None:
        raise NotFound(f"no extension with slug {slug!r}")
    return respond(represent(found), "api/detail.html")


@bp.post("/api/extensions")
def create_extension() -> Response:
    """Add an extension (bearer token, JSON body); 201 with its Location."""
    check_token()
    fields = validate_extension(json_body(), catalogue.category_slugs(), partial=False)
    try:
        created = catalogue.create_extension(fields)
    except catalogue.DuplicateSlug:
        raise Conflict(f"an extension with slug {fields['slug']!r} already exists") from None
    log.info("created extension %s", created["slug"])
    response = jsonify(represent(created))
    response.status_code = 201
    response.headers["Location"] = url_for("api.extension", slug=created["slug"])
    return response


@bp.route("/api/extensions/<slug>", methods=["PUT", "PATCH"])
def update_extension(slug: str) -> Response:
    """Replace (PUT) or change (PATCH) an extension (bearer token, JSON body)."""
    check_token()
    if catalogue.get_extension(slug) is None:
        raise NotFound(f"no extension with slug {slug!r}")
    data = json_body()
    if request.method == "PUT":
        # PUT replaces the whole resource; its slug may be left out of the body.
        data.setdefault("slug", slug)
    fields = validate_extension(data, catalogue.category_slugs(), partial=request.method == "PATCH")
    try:
        updated = catalogue.update_extension(slug, fields)
    except catalogue.DuplicateSlug:
        raise Conflict(f"an extension with slug {fields['slug']!r} already exists") from None
    if updated is None:  # deleted between the check and the write
        raise NotFound(f"no extension with slug {slug!r}")
    log.info("updated extension %s", updated["slug"])
    return jsonify(represent(updated))


@bp.delete("/api/extensions/<slug>")
def delete_extension(slug: str) -> Response:
    """Delete an extension (bearer token); 204."""
    check_token()
    if not catalogue.delete_extension(slug):
        raise NotFound(f"no extension with slug {slug!r}")
    log.info("deleted extension %s", slug)
    return Response(status=204)
