"""Cursors of the API's listing: where a client walking the whole list goes on from.

A cursor names the last row a client got (its name and slug, the listing's order), so
the next page starts at that row in the index instead of skipping every row before it:
page 5,000 costs what page 1 costs. It is opaque to clients (URL-safe base64 of JSON);
one this API did not give is a 400.

    token = encode({"name": "Flask-Login", "slug": "flask-login", ...})
    decode(token)  # ("Flask-Login", "flask-login")
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from werkzeug.exceptions import BadRequest

# Far longer than any cursor this API gives (names and slugs are bounded by validation).
MAX_LENGTH = 1024


def encode(row: dict[str, Any]) -> str:
    """The cursor of ``row``: a page after it starts with the row that follows it."""
    raw = json.dumps([row["name"], row["slug"]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str) -> tuple[str, str]:
    """The (name, slug) a cursor names; 400 for anything this API did not give."""
    problem = BadRequest("after must be a cursor from this API's next_cursor")
    if len(token) > MAX_LENGTH or not token.isascii():
        raise problem
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        raise problem from None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(part, str) and "\x00" not in part for part in value)
    ):
        raise problem
    return value[0], value[1]
