"""One parser per kind of untrusted input, shared by every mounted app.

Each returns the clean value or raises Werkzeug's ``BadRequest`` with a message for a
person; each app's error handlers turn that into its own format (an HTML page on the
site, JSON on the API). Nothing here lets a malformed input become a 500::

    page = positive_int(request.args.get("page"), name="page", default=1, maximum=10_000)
    target = safe_redirect(request.form.get("next"), root="/", default="/")
    data = json_object(request.get_data())
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import urlsplit

from werkzeug.exceptions import BadRequest

ASCII_DIGITS = re.compile(r"[0-9]{1,18}")  # 18 digits stay far below SQLite's 2**63
# What browsers drop from anywhere in a URL before they read it (WHATWG URL parser).
URL_IGNORED = re.compile(r"[\t\n\r]")
MAX_REDIRECT_LENGTH = 2000
# JSON nested deeper than any extension record needs is refused, well before Python's
# recursion limit would turn it into a RecursionError.
MAX_JSON_DEPTH = 32


def positive_int(raw: str | None, *, name: str, default: int, maximum: int) -> int:
    """``raw`` as an integer from 1 to ``maximum``; ``default`` when absent or empty.

    Only ASCII digits count: ``int()`` would also take ``"１"``, ``"+1"``, ``" 1"`` or
    ``"1_0"``, and ``str.isdigit()`` is true for ``"²"``, which ``int()`` refuses.
    """
    if raw is None or raw == "":
        return default
    if not ASCII_DIGITS.fullmatch(raw) or int(raw) < 1:
        raise BadRequest(f"{name} must be a whole number from 1 to {maximum}")
    value = int(raw)
    if value > maximum:
        raise BadRequest(f"{name} must be at most {maximum}")
    return value


def safe_redirect(target: str | None, *, root: str, default: str) -> str:
    """``target`` when a browser would read it as a path under ``root`` of this site.

    ``root`` is the app's own path prefix ending in ``/``. Anything a browser could read
    as another site is ``default``: a scheme, ``//host``, ``\\`` (read as ``/``), tabs
    and newlines (dropped by browsers, so ``/\\t/evil.example`` is ``//evil.example``),
    and any other control character.
    """
    if not target or len(target) > MAX_REDIRECT_LENGTH:
        return default
    as_read = URL_IGNORED.sub("", target).replace("\\", "/")
    if as_read != target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return default
    if not target.startswith(root):
        return default
    return target


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def _depth(value: Any) -> int:
    """How deeply ``value`` nests arrays and objects (iteratively: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object, strictly RFC 8259: no NaN or Infinity, bounded depth."""
    try:
        data = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise BadRequest(f"malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, the hooks above
        raise BadRequest(f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object")
    if _depth(data) > MAX_JSON_DEPTH:
        raise BadRequest(f"malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels")
    return data
