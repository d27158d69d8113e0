"""The build id: a digest of the code being served, reported by ``/_gateway/health``.

After a reload, a new id proves the workers run the new release. ``GATEWAY_BUILD_ID``
overrides it (a CI build number, say).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# The checkout or release directory this code runs from.
REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "frontend_app", "backend_app")
SUFFIXES = (".py", ".html", ".css", ".json", ".ini", ".conf")


def source_digest(root: Path = REPO_ROOT) -> str:
    """The first 12 hex digits of a SHA-256 over every source file's path and content."""
    digest = hashlib.sha256()
    files = [root / "uwsgi.ini", root / "nginx.conf"]
    for package in PACKAGES:
        files += sorted(p for p in (root / package).rglob("*") if p.suffix in SUFFIXES)
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]
