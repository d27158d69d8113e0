"""Secrets generated on first start into the data dir, never kept in the repo.

``make dev``, ``make run`` and ``deploy/install`` call ``ensure_secrets``; whatever
reads the environment (uWSGI, the CLI) also reads this file, below the environment.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

FILENAME = "secrets.json"
GENERATED = ("FRONTEND_SECRET_KEY", "BACKEND_SECRET_KEY", "BACKEND_API_TOKEN")


def read_secrets(data_dir: Path) -> dict[str, str]:
    """The generated secrets in ``data_dir``, or nothing when there are none yet."""
    try:
        data = json.loads((data_dir / FILENAME).read_text())
    except FileNotFoundError:
        return {}
    return {key: str(data[key]) for key in GENERATED if data.get(key)}


def ensure_secrets(data_dir: Path) -> Path:
    """Create the secrets file (mode 0600) with any secret it lacks; return its path."""
    path = data_dir / FILENAME
    data_dir.mkdir(parents=True, exist_ok=True)
    current = read_secrets(data_dir)
    if all(key in current for key in GENERATED):
        return path
    for key in GENERATED:
        current.setdefault(key, secrets.token_urlsafe(32))
    # Written whole to a private temporary file, then renamed: never half a file.
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(current, handle, indent=2)
    os.replace(tmp, path)
    return path
