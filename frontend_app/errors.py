"""Every error of the site is an HTML page in the site's layout, never a traceback."""

from __future__ import annotations

from flask import Flask, Response, current_app, render_template
from flask.globals import request_ctx
from markupsafe import escape
from werkzeug.exceptions import HTTPException

# For a request whose Host is not trusted no URL can be built, so no layout either.
BARE_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{code} {name}</title>'
    "</head><body><main><h1>{name}</h1><p>{message}</p></main></body></html>"
)


def html_error(error: HTTPException) -> Response:
    """Render ``error`` (404, 405, 500, ...) as a page, keeping its headers (``Allow``)."""
    code = error.code or 500
    if request_ctx.url_adapter is None:
        html = BARE_PAGE.format(code=code, name=error.name, message=escape(error.description))
    else:
        html = render_template("error.html", code=code, name=error.name, message=error.description)
    response = current_app.make_response((html, code))
    for key, value in error.get_headers():
        if key.lower() != "content-type":
            response.headers[key] = value
    return response


def init_app(app: Flask) -> None:
    """Answer every error of ``app`` with an HTML page."""
    app.register_error_handler(HTTPException, html_error)
