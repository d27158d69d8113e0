"""Calling a WSGI callable directly, without a server or a test client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def ignore_start_response(
    status: str, headers: list[tuple[str, str]], exc_info: Any = None
) -> Callable[[bytes], object]:
    """A ``start_response`` for when only the body (or an exception) matters."""
    return lambda data: None
