"""HTML forms of the browsable API: sign in with the API token, then create, edit, delete.

The sign-in lives in the backend's own session cookie (``Path=/backend``); every form
carries a CSRF token checked here. Invalid input re-renders the form with the reasons
and the status the JSON API would give (422, 409), so nothing is half-written.

A sign-in can be taken back, although the cookie is only signed: the session holds the
id of a row in the catalogue's ``sign_ins`` table and a fingerprint of the API token.
Sign-out deletes the row, so every copy of the cookie opens nothing; rotating
``BACKEND_API_TOKEN`` changes the fingerprint, so every browser is signed out; and the
row, like the cookie (``PERMANENT_SESSION_LIFETIME``), expires after the configured
lifetime (8 hours by default).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

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
from werkzeug.wrappers import Response

from backend_app import catalogue
from backend_app.errors import InvalidFields
from backend_app.validation import validate_extension
from gateway.extensions import csrf
from gateway.http.inputs import safe_redirect
from gateway.http.tokens import same_token

bp = Blueprint("browse", __name__, url_prefix="/ui")


def here() -> str:
    """The public path and query of this request, mount prefix included."""
    return request.script_root + request.full_path.rstrip("?")


@bp.app_context_processor
def layout_context() -> dict[str, str]:
    """The layout's sign-in link comes back to the page it was clicked on."""
    return {"here": here()}


def safe_next(default: str) -> str:
    """The ``next`` field when a browser would read it as a path of this app."""
    root = request.script_root + "/"
    return safe_redirect(request.values.get("next"), root=root, default=default)


def token_fingerprint() -> str:
    """A keyed digest of the current API token: it changes when the token is rotated."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    token = str(current_app.config.get("API_TOKEN") or "").encode()
    return hmac.new(key, token, hashlib.sha256).hexdigest()


def signed_in() -> bool:
    """True when this browser's sign-in is still valid; a stale one is forgotten."""
    sign_in_id = session.get("sign_in")
    if sign_in_id is None:
        return False
    if same_token(str(session.get("token", "")), token_fingerprint()) and catalogue.sign_in_valid(
        str(sign_in_id)
    ):
        return True
    session.clear()  # signed out, expired or the token changed: drop the cookie
    return False


def page(template: str, status: int = 200, **context: Any) -> Response:
    """Render a form page of the browsable API."""
    html = render_template(template, signed_in=signed_in(), **context)
    return current_app.make_response((html, status))


def require_sign_in() -> Response | None:
    """A redirect to the sign-in form for a browser that has not signed in."""
    if signed_in():
        return None
    return redirect(url_for("browse.sign_in", next=here()), 303)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response:
    """Sign this browser in with the API token."""
    if request.method != "POST":  # GET, and HEAD like GET
        return page("api/sign_in.html", next=request.args.get("next", ""))
    csrf.protect()
    given = request.form.get("token", "")
    expected = current_app.config.get("API_TOKEN")
    if not same_token(given, expected):
        return page("api/sign_in.html", 401, error="That token is not valid.", next=safe_next(""))
    lifetime = int(current_app.permanent_session_lifetime.total_seconds())
    session.clear()
    session["sign_in"] = catalogue.add_sign_in(lifetime)
    session["token"] = token_fingerprint()
    session.permanent = True  # the cookie expires with the sign-in
    return redirect(safe_next(url_for("api.index")), 303)


@bp.post("/sign-out")
def sign_out() -> Response:
    """End this sign-in for every copy of its cookie."""
    csrf.protect()
    sign_in_id = session.get("sign_in")
    if sign_in_id is not None:
        catalogue.end_sign_in(str(sign_in_id))
    session.clear()
    return redirect(url_for("api.index"), 303)


def _form_fields() -> dict[str, str]:
    """The extension fields posted by the form."""
    return {field: request.form.get(field, "") for field in catalogue.FIELDS}


def _save(slug: str | None) -> Response:
    """Validate the posted form, then create (``slug`` None) or update; re-render on error."""
    data = _form_fields()
    categories = catalogue.list_categories()
    try:
        fields = validate_extension(data, {c["slug"] for c in categories}, partial=False)
        saved = (
            catalogue.create_extension(fields)
            if slug is None
            else catalogue.update_extension(slug, fields)
        )
    except InvalidFields as exc:
        errors, status = exc.fields, 422
    except catalogue.DuplicateSlug:
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
    categories = catalogue.list_categories()
    return page("api/form.html", values={}, errors={}, categories=categories, slug=None)


@bp.route("/extensions/<slug>/edit", methods=["GET", "POST"])
def edit_extension(slug: str) -> Response:
    """The form that edits an extension."""
    denied = require_sign_in()
    if denied:
        return denied
    current = catalogue.get_extension(slug)
    if current is None:
        abort(404, f"no extension with slug {slug!r}")
    if request.method == "POST":
        csrf.protect()
        return _save(slug)
    categories = catalogue.list_categories()
    return page("api/form.html", values=current, errors={}, categories=categories, slug=slug)


@bp.post("/extensions/<slug>/delete")
def delete_extension(slug: str) -> Response:
    """Delete an extension from its page."""
    denied = require_sign_in()
    if denied:
        return denied
    csrf.protect()
    if not catalogue.delete_extension(slug):
        abort(404, f"no extension with slug {slug!r}")
    return redirect(url_for("api.extensions"), 303)
