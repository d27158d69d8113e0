"""The mount that owns a path, chosen as Werkzeug's ``DispatcherMiddleware`` chooses.

    pages = ByPrefix({"": site_page, "/backend": api_page})
    pages.of("/backend/api/x")   # api_page
    pages.of("/backendx")        # site_page: prefixes end on a segment boundary

The longest prefix that equals the path or is followed in it by ``/`` wins; ``""`` (the
default app) owns everything else, a path without its leading slash (``*``) too. The
layers that must know a request's mount before the dispatcher runs (the guard's error
page, the counters' app, the cache's route) all ask this one table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class ByPrefix(Generic[T]):
    """Values by mount prefix; ``of(path)`` is the value of the mount that owns ``path``."""

    def __init__(self, items: Iterable[tuple[str, T]]) -> None:
        longest = sorted(items, key=lambda item: len(item[0]), reverse=True)
        # Each prefix with its slash, built once: the paths below it start with that.
        self.rows = [(prefix, prefix + "/", value) for prefix, value in longest]

    def of(self, path: str) -> T:
        """The value of the longest prefix that owns ``path`` (else the shortest's); an
        empty table raises a LookupError."""
        for prefix, below, value in self.rows:
            if path.startswith(below) or path == prefix:
                return value
        return self.rows[-1][2]
