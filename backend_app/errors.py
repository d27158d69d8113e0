"""Every API error is JSON: ``{"error": {"status": N, "message": "..."}}``."""

from __future__ import annotations

import json

from flask import Flask, Response
from werkzeug.exceptions import HTTPException, UnprocessableEntity


class InvalidFields(UnprocessableEntity):
    """422 naming each invalid field and why."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(f"invalid fields: {', '.join(sorted(fields))}")
        self.fields = fields


def json_error(error: HTTPException) -> Response:
    """Turn any HTTP error, 500 included, into the API's JSON error body.

    The response keeps the error's own headers (``Allow`` on 405,
    ``WWW-Authenticate`` on 401); a 500 never carries the exception's text.
    """
    response = error.get_response()
    body: dict[str, object] = {"status": error.code, "message": error.description}
    if isinstance(error, InvalidFields):
        body["fields"] = error.fields
    response.set_data(json.dumps({"error": body}))
    response.mimetype = "application/json"
    return response  # type: ignore[return-value]


def init_app(app: Flask) -> None:
    """Answer every error of ``app`` in JSON."""
    app.register_error_handler(HTTPException, json_error)
