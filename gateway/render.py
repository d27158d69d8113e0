"""Templates with ``@NAME@`` placeholders (nginx.conf, deploy/'s files), filled and written.

    render(Path("nginx.conf"), Path("run/nginx/gateway.conf"), {"LISTEN": "8080", ...})

The one renderer of the project: ``gateway render`` (deploy/run, deploy/install), the
integration tests and the benchmark all call it. A placeholder without a value is
refused rather than left for nginx or systemd to trip over; values are inserted as they
are (never searched for placeholders themselves).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from gateway.settings import ConfigError

PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every ``@NAME@`` replaced by ``values[NAME]``; ``ConfigError`` when
    one has no value."""
    missing = sorted({name for name in PLACEHOLDER.findall(text) if name not in values})
    if missing:
        raise ConfigError([f"render: no value for @{name}@" for name in missing])
    return PLACEHOLDER.sub(lambda found: values[found[1]], text)


def render(template: Path, dest: Path, values: Mapping[str, str]) -> None:
    """Write ``template`` filled with ``values`` to ``dest``, atomically: a reader (nginx
    reloading, systemd) sees the old file or the new one, never a part."""
    text = fill(template.read_text(), values)
    temp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(text)
        os.replace(temp, dest)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def parse_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """``NAME=VALUE`` arguments as a mapping (a value may hold ``=``)."""
    values, problems = {}, []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not PLACEHOLDER.fullmatch(f"@{name}@"):
            problems.append(f"render: {pair!r} is not NAME=VALUE")
        values[name] = value
    if problems:
        raise ConfigError(problems)
    return values
