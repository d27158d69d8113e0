"""HTML forms of the browsable API: sign in with the API token, then create, edit, delete.

The sign-in lives in the backend's own session cookie (``Path=/backend``); every form
carries a CSRF token checked here. Invalid input re-renders the form with the reasons
and the status the JSON API would give (422, 409), so nothing is half-written.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from backend_app import store
from backend_app.errors import InvalidFields
from backend_app.validation import validate_extension
from gateway.extensions import csrf

bp = Blueprint("browse", __name__, url_prefix="/ui")


def here() -> str:
    """The public path and query of this request, mount prefix included."""
    return request.script_root + request.full_path.rstrip("?")


@bp.app_context_processor
def layout_context() -> dict[str, str]:
    """The layout's sign-in link comes back to the page it was clicked on."""
    return {"here": here()}


def safe_next(default: str) -> str:
    """The ``next`` form field when it is a path inside this app, else ``default``."""
    target = request.values.get("next", "")
    root = request.script_root + "/"
    if target.startswith(root) and not target.startswith("//") and "\\" not in target:
        return target
    return default


def page(template: str, status: int = 200, **context: Any) -> Response:
    """Render a form page of the browsable API."""
    html = render_template(template, signed_in=bool(session.get("signed_in")), **context)
    return current_app.make_response((html, status))


def require_sign_in() -> Response | None:
    """A redirect to the sign-in form for a browser that has not signed in."""
    if session.get("signed_in"):
        return None
    return redirect(url_for("browse.sign_in", next=here()), 303)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response:
    """Sign this browser in with the API token."""
    if request.method == "GET":
        return page("api/sign_in.html", next=request.args.get("next", ""))
    csrf.protect()
    given = request.form.get("token", "")
    expected = current_app.config.get("API_TOKEN")
    if not expected or not hmac.compare_digest(given.encode(), str(expected).encode()):
        return page("api/sign_in.html", 401, error="That token is not valid.", next=safe_next(""))
    session.clear()
    session["signed_in"] = True
    return redirect(safe_next(url_for("api.index")), 303)


@bp.post("/sign-out")
def sign_out() -> Response:
    """Forget this browser's sign-in."""
    csrf.protect()
    session.clear()
    return redirect(url_for("api.index"), 303)


def _form_fields() -> dict[str, str]:
    """The extension fields posted by the form."""
    return {field: request.form.get(field, "") for field in store.FIELDS}


def _save(slug: str | None) -> Response:
    """Validate the posted form, then create (``slug`` None) or update; re-render on error."""
    db = store.get_db()
    data = _form_fields()
    categories = store.list_categories(db)
    try:
        fields = validate_extension(data, {c["slug"] for c in categories}, partial=False)
        saved = (
            store.create_extension(db, fields)
            if slug is None
            else store.update_extension(db, slug, fields)
        )
    except InvalidFields as exc:
        errors, status = exc.fields, 422
    except store.DuplicateSlug:
        errors, status = {"slug": "another extension already has this slug"}, 409
    else:
        if saved is None:
            abort(404, f"no extension with slug {slug!r}")
        return redirect(url_for("api.extension", slug=saved["slug"]), 303)
    return page(
        "api/form.html", status, values=data, errors=errors, categories=categories, slug=slug
    )


@bp.route("/extensions/new", methods=["GET", "POST"])
def new_extension() -> Response:
    """The form that creates an extension."""
    denied = require_sign_in()
    if denied:
        return denied
    if request.method == "POST":
        csrf.protect()
        return _save(None)
    categories = store.list_categories(store.get_db())
    return page("api/form.html", values={}, errors={}, categories=categories, slug=None)


@bp.route("/extensions/<slug>/edit", methods=["GET", "POST"])
def edit_extension(slug: str) -> Response:
    """The form that edits an extension."""
    denied = require_sign_in()
    if denied:
        return denied
    db = store.get_db()
    current = store.get_extension(db, slug)
    if current is None:
        abort(404, f"no extension with slug {slug!r}")
    if request.method == "POST":
        csrf.protect()
        return _save(slug)
    categories = store.list_categories(db)
    return page("api/form.html", values=current, errors={}, categories=categories, slug=slug)


@bp.post("/extensions/<slug>/delete")
def delete_extension(slug: str) -> Response:
    """Delete an extension from its page."""
    denied = require_sign_in()
    if denied:
        return denied
    csrf.protect()
    if not store.delete_extension(store.get_db(), slug):
        abort(404, f"no extension with slug {slug!r}")
    return redirect(url_for("api.extensions"), 303)
