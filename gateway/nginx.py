"""What nginx.conf takes from the settings and the mount table, as placeholder values.

    values = site_values(config, load_mounts(source), home=Path("/opt/gateway/current"))
    render(home / "nginx.conf", dest, {**host_values, **values})

nginx cannot read the mount table, so every fact of it that nginx acts on is rendered
into the site from the table itself: which app a path belongs to (static files, the
format of nginx's own errors, the namespace of page files), as the dispatcher decides it.
The values hold several nginx statements on one line (nginx reads ``;``, not newlines),
so that ``gateway nginx-values`` can print them one ``NAME=VALUE`` a line.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gateway.cache import files
from gateway.http import metrics
from gateway.mounts import Mount
from gateway.settings import ConfigError

# What nginx.conf inserts into its maps unquoted: a namespace or an app package.
NGINX_WORD = re.compile(r"[A-Za-z0-9_.~-]+")
# The format of nginx's own errors for an app: the error page its package ships.
ERROR_PAGES = ("error.json", "error.html")


def site_values(config: Mapping[str, Any], mounts: tuple[Mount, ...], home: Path) -> dict[str, str]:
    """Every placeholder of nginx.conf that follows the settings or the mount table;
    ``home`` is the code nginx serves static files from (``@HOME@``)."""
    return {
        **files.nginx_values(config["RESPONSE_CACHE_TIMEOUT"]),
        "METRICS_ALLOW": metrics.nginx_allow(config["METRICS_CLIENTS"]),
        **mount_values(mounts, home),
    }


def mount_values(mounts: tuple[Mount, ...], home: Path) -> dict[str, str]:
    """The entries of nginx.conf's maps and locations that follow the mount table."""
    problems = [
        f"mounts: {value!r} cannot be written into nginx.conf"
        for mount in mounts
        for value in (mount.app, mount.namespace)
        if not NGINX_WORD.fullmatch(value)
    ]
    if problems:
        raise ConfigError(problems)
    default = next(m for m in mounts if m.prefix == "")
    # The dispatcher's longest prefix wins: nginx's maps try their regexes in order.
    others = sorted((m for m in mounts if m.prefix), key=lambda m: -len(m.prefix))
    formats = {m.app: error_format(m.app) for m in mounts}
    return {
        "MOUNT_NAMESPACES": _line(
            *(f'"~^{re.escape(m.prefix)}(/|$)" {m.namespace};' for m in others),
            f"default {default.namespace};",
        ),
        "ERROR_APPS": _line(*(_error_entries(m) for m in others), f"default {default.app};"),
        "ERROR_FORMATS": _line(
            *(f"{app} {ext};" for app, ext in formats.items()),
            f"default {formats[default.app]};",
        ),
        "FILE_EXTENSIONS": _line(*_replayed(mounts, lambda ext, _: ext)),
        "FILE_VARY": _line(*_replayed(mounts, lambda _, vary: f'"{vary}"')),
        "STATIC_LOCATIONS": _line(
            *(
                f"location ^~ {m.prefix}/static/ {{ alias {home}/{m.app}/static/; expires 1y; }}"
                for m in others + [default]
            )
        ),
    }


def error_format(app: str) -> str:
    """``json`` or ``html``: the error page the package ``app`` ships in
    ``static/errors/`` (nginx fills it in for the errors it answers itself)."""
    spec = importlib.util.find_spec(app)
    folders = spec.submodule_search_locations if spec else None
    for page in ERROR_PAGES:
        if folders and any((Path(f) / "static" / "errors" / page).is_file() for f in folders):
            return page.rsplit(".", 1)[1]
    raise ConfigError([f"mounts: {app} ships no static/errors/error.json or error.html"])


def _error_entries(mount: Mount) -> str:
    """The mount's entries of the map "$gateway_path|$uri|$request": the normalised path
    (kept before try_files renames it), else $uri (an error before the rewrite phase),
    else the raw request line (the URI itself was refused), each on a segment boundary."""
    prefix = re.escape(mount.prefix)
    return _line(
        f'"~^{prefix}(/|\\|)" {mount.app};',
        f'"~^\\|{prefix}(/|\\|)" {mount.app};',
        f'"~^\\|\\|[^ ]+ {prefix}(?:[/?# ]|$)" {mount.app};',
    )


def _replayed(mounts: Iterable[Mount], value: Any) -> list[str]:
    """Entries keyed "namespace:variant" for the page files Python writes
    (``files.REPLAYED``): ``value(extension, vary)`` of each."""
    entries = []
    for mount in mounts:
        for variant in ("html", "json"):
            replay = files.REPLAYED.get((mount.namespace, variant))
            if replay:
                extension, headers = replay
                shown = value(extension, headers["vary"])
                entries.append(f'"{mount.namespace}:{variant}" {shown};')
    return entries


def _line(*statements: str) -> str:
    return " ".join(statements)
