"""Validation of an extension's fields, shared by the JSON API and the HTML forms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from backend_app.catalogue.writes import FIELDS
from backend_app.errors import InvalidFields

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_LENGTH = {"slug": 64, "name": 100, "category": 64, "summary": 200, "homepage": 300}


def _problem(field: str, value: str, categories: set[str]) -> str | None:
    """Why ``value`` is not a valid ``field``, or ``None``."""
    if not value:
        return "must not be empty"
    if len(value) > MAX_LENGTH[field]:
        return f"must be at most {MAX_LENGTH[field]} characters"
    if any(ch in value for ch in "\r\n\t\x00"):
        return "must be a single line"
    if field == "slug" and not SLUG.fullmatch(value):
        return "must be lowercase letters, digits and single hyphens (like flask-login)"
    if field == "category" and value not in categories:
        return f"must be one of: {', '.join(sorted(categories))}"
    if field == "homepage":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "must be an http(s) URL"
    return None


def validate_extension(
    data: Mapping[str, Any], categories: set[str], *, partial: bool
) -> dict[str, str]:
    """Return the cleaned fields of ``data``; raise ``InvalidFields`` naming every problem.

    ``partial`` (PATCH) allows missing fields; unknown fields are always an error, so a
    typo never silently does nothing.
    """
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    if not data:
        errors["body"] = "names no field"
    for field in sorted(set(data) - set(FIELDS)):
        errors[field] = "is not a known field"
    for field in FIELDS:
        if field not in data:
            if not partial:
                errors[field] = "is required"
            continue
        value = data[field]
        if not isinstance(value, str):
            errors[field] = "must be a string"
            continue
        value = value.strip()
        problem = _problem(field, value, categories)
        if problem:
            errors[field] = problem
        else:
            clean[field] = value
    if errors:
        raise InvalidFields(errors)
    return clean
