"""What the composed gateway is made of: its mount table and every route, as rows.

One function per table, shared by the ``gateway routes``/``gateway mounts`` commands and
the debug toolbar's Gateway and Routes panels (``gateway.devtools.panels``), so the terminal and
the browser can never disagree. ``Gateway`` computes both once, after every app is
built, and hands each app the result under ``app.extensions[EXTENSION_KEY]``::

    inventory = Inventory(mount_table(mounts, apps), route_table(apps, extra))
    [row.path for row in inventory.routes]   # ["/", "/backend/", "/backend/api/...", ...]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from gateway.mounts import Mount

EXTENSION_KEY = "gateway.devtools.inventory"
# Methods every rule answers by itself; listing them on each row says nothing.
IMPLIED_METHODS = frozenset({"HEAD", "OPTIONS"})


@dataclass(frozen=True)
class MountRow:
    """One mounted app: where it is served, under which profile and cache namespace."""

    prefix: str
    app: str
    profile: str
    namespace: str

    @property
    def shown_prefix(self) -> str:
        """The prefix as people write it: the default app's ``""`` reads ``/``."""
        return self.prefix or "/"


@dataclass(frozen=True)
class RouteRow:
    """One route with its full public path (mount prefix + rule)."""

    path: str
    methods: tuple[str, ...]
    endpoint: str
    app: str


@dataclass(frozen=True)
class Inventory:
    """Both tables of one gateway."""

    mounts: tuple[MountRow, ...]
    routes: tuple[RouteRow, ...]


def mount_table(mounts: Iterable[Mount], apps: Mapping[str, Flask]) -> tuple[MountRow, ...]:
    """The mount table in its configured order, each row with its app's profile."""
    return tuple(
        MountRow(m.prefix, m.app, str(apps[m.prefix].config["PROFILE"]), m.namespace)
        for m in mounts
    )


def route_table(apps: Mapping[str, Flask], extra: Iterable[RouteRow] = ()) -> tuple[RouteRow, ...]:
    """Every rule of every app under its public path, by prefix then rule; then ``extra``.

    ``extra`` holds the gateway's own endpoints, which no Flask app owns.
    """
    rows = []
    for prefix, app in sorted(apps.items()):
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            methods = tuple(sorted((rule.methods or set()) - IMPLIED_METHODS))
            rows.append(RouteRow(prefix + rule.rule, methods, rule.endpoint, app.name))
    return (*rows, *extra)
