"""The site's pages: home, category, extension, search, and the star form."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as WerkzeugResponse

from backend_app import catalogue
from gateway.extensions import csrf
from gateway.http.inputs import positive_int, safe_redirect

bp = Blueprint("pages", __name__)


@bp.app_context_processor
def layout_context() -> dict[str, Any]:
    """What the layout shows on every page: the visitor's stars and the API's root."""
    return {
        "starred": session.get("stars", []),
        "api_root": current_app.config["MOUNT_PREFIXES"]["backend_app"] + "/",
        # Where a form sends the visitor back to.
        "here": request.script_root + request.full_path.rstrip("?"),
    }


def page_number() -> int:
    """The ``page`` query argument; anything but a whole number in range is a 400."""
    maximum = current_app.config["MAX_PAGE"]
    return positive_int(request.args.get("page"), name="page", default=1, maximum=maximum)


def paginate(category: str | None = None, query: str | None = None) -> dict[str, Any]:
    """One page of extensions and the numbers the pager needs."""
    per_page = current_app.config["PER_PAGE"]
    page = page_number()
    items, total = catalogue.list_extensions(
        category=category, query=query, page=page, per_page=per_page
    )
    pages = max(1, math.ceil(total / per_page))
    if page > pages:
        abort(404, "There is no such page.")
    return {"items": items, "total": total, "page": page, "pages": pages}


@bp.get("/")
def index() -> str:
    """Categories with counts, recently updated extensions and the search form."""
    return render_template(
        "index.html",
        categories=catalogue.list_categories(),
        recent=catalogue.recent_extensions(current_app.config["RECENT_COUNT"]),
    )


@bp.get("/category/<slug>")
def category(slug: str) -> str:
    """The extensions of one category."""
    found = catalogue.get_category(slug)
    if found is None:
        abort(404, f"There is no category called “{slug}”.")
    return render_template("category.html", category=found, **paginate(category=slug))


@bp.get("/extensions/<slug>")
def extension(slug: str) -> str:
    """One extension."""
    found = catalogue.get_extension(slug)
    if found is None:
        abort(404, f"There is no extension called “{slug}”.")
    return render_template(
        "extension.html", extension=found, category=catalogue.get_category(found["category"])
    )


@bp.get("/search")
def search() -> str:
    """Extensions whose name, slug or summary contain ``q``."""
    query = request.args.get("q", "").strip()
    if len(query) > current_app.config["MAX_QUERY_LENGTH"]:
        abort(400, f"Searches are limited to {current_app.config['MAX_QUERY_LENGTH']} characters.")
    results = paginate(query=query) if query else None
    return render_template("search.html", query=query, results=results)


def check_form_origin() -> None:
    """Refuse a star form posted from another site.

    A visitor with a session got a CSRF token in the form, checked here. A visitor
    without one was served a cacheable page, the same for everyone, so it cannot carry a
    per-visitor token: the browser's ``Origin`` (or ``Referer``) must then be this site.
    """
    if session:
        csrf.protect()
        return
    origin = request.headers.get("Origin") or request.referrer
    if origin is not None and urlsplit(origin).netloc != request.host:
        abort(400, "This form was sent from another site.")


@bp.post("/stars/<slug>")
def star(slug: str) -> WerkzeugResponse:
    """Star or unstar an extension (form field ``action``), then go back to the page."""
    check_form_origin()
    if catalogue.get_extension(slug) is None:
        abort(404, f"There is no extension called “{slug}”.")
    action = request.form.get("action")
    stars = [s for s in session.get("stars", []) if s != slug]
    if action == "star":
        if len(stars) >= current_app.config["MAX_STARS"]:
            abort(400, f"You can star at most {current_app.config['MAX_STARS']} extensions.")
        stars.append(slug)
    elif action != "unstar":
        abort(400, "The action must be “star” or “unstar”.")
    if stars:
        session["stars"] = stars
    else:
        # No stars left: drop the cookie, so this visitor's pages are cacheable again.
        session.clear()
    back = url_for("pages.extension", slug=slug)
    target = safe_redirect(request.form.get("next"), root=request.script_root + "/", default=back)
    return redirect(target, 303)
