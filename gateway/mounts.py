"""The mount table: which app package is served at which prefix.

The table is data: a third app is one more ``Mount`` here, or one more entry of the
``GATEWAY_MOUNTS`` JSON list in the environment. The app mounted at ``""`` is the
default app of Werkzeug's ``DispatcherMiddleware``: it gets every path no other prefix
owns (``/backendx`` included). Other prefixes start with ``/`` and never end with one,
or the dispatcher and Flask's slash redirect loop. ``gateway.compose`` serves the table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.settings import ConfigError

# The gateway's own endpoints live under this prefix, ahead of the default app.
GATEWAY_PREFIX = "/_gateway"
PREFIX_SHAPE = re.compile(r"(/[A-Za-z0-9._~-]+)+")


@dataclass(frozen=True)
class Mount:
    """One row of the mount table: where an app package is served."""

    prefix: str
    app: str
    namespace: str


MOUNTS: tuple[Mount, ...] = (
    Mount(prefix="", app="frontend_app", namespace="frontend"),
    Mount(prefix="/backend", app="backend_app", namespace="backend"),
)


def validate_mounts(mounts: tuple[Mount, ...]) -> tuple[Mount, ...]:
    """Return ``mounts`` when the table can be served; raise ``ConfigError`` otherwise."""
    problems = []
    defaults = [m for m in mounts if m.prefix == ""]
    if len(defaults) != 1:
        problems.append(f'mounts: exactly one app must have the prefix "", found {len(defaults)}')
    for mount in mounts:
        if mount.prefix and not PREFIX_SHAPE.fullmatch(mount.prefix):
            problems.append(
                f"mounts: prefix {mount.prefix!r} must start with '/' and not end with one"
            )
        if mount.prefix == GATEWAY_PREFIX:
            problems.append(f"mounts: prefix {GATEWAY_PREFIX!r} is reserved for the gateway")
    for field in ("prefix", "app", "namespace"):
        values = [getattr(m, field) for m in mounts]
        if len(values) != len(set(values)):
            problems.append(f"mounts: two entries share one {field}")
    if problems:
        raise ConfigError(problems)
    return mounts


def load_mounts(source: Mapping[str, Any]) -> tuple[Mount, ...]:
    """The mount table: ``GATEWAY_MOUNTS`` (a JSON list of objects) or ``MOUNTS``."""
    raw = source.get("GATEWAY_MOUNTS")
    if not raw:
        return MOUNTS
    try:
        rows = json.loads(raw) if isinstance(raw, str) else raw
        mounts = tuple(Mount(**row) for row in rows)
    except (ValueError, TypeError) as exc:
        raise ConfigError([f"GATEWAY_MOUNTS is not a list of mount objects: {exc}"]) from None
    return validate_mounts(mounts)


def prefix_of(mounts: Iterable[Mount], app: str) -> str:
    """The prefix the package ``app`` is mounted at."""
    for mount in mounts:
        if mount.app == app:
            return mount.prefix
    raise ConfigError([f"mounts: no mount for app {app!r}"])
