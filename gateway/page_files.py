"""Shared answers mirrored as files, so that nginx answers a hit without entering uWSGI.

    pages = FilePages(UwsgiPages("gateway"), Path(data_dir) / "pages")
    name = file_name(namespace, environ, headers)   # None: nginx could not replay it
    pages.publish(generation, name, body)

The page store (uWSGI's cache) stays the authority: its generation token names a
directory ``<root>/<token>/``, and ``<root>/current`` is a symlink to the current one.
``renew()`` starts the new generation in the store, creates its directory, swaps the
symlink atomically (a temporary symlink renamed over ``current``) and only then removes
every other generation's directory: by the time the catalogue's write answers, every
nginx worker opens files of the new generation.

A request that rendered old data publishes into the generation it read before it ran:
an old directory, unreachable through ``current`` (or already removed: then nothing is
written). Files are written to a temporary name and renamed, so nginx never reads a
partial file.

nginx serves ``current/<host:port>/<namespace>/<variant><path>.<query>.<ext>`` only when
the request passes the same conservative checks that ``file_name`` applies here (method,
no Authorization, no session cookie named at all, an Accept header whose variant is
certain, a path and query in a safe alphabet); everything else goes to uWSGI. The file's
extension gives the Content-Type, and nginx adds the Cache-Control and Vary below: a file
is written only when the app's answer carried exactly those headers.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.page_stores import PageStore

log = logging.getLogger(__name__)

CURRENT = "current"
# The same rules as the maps in nginx.conf ("Hits before Python"); a test checks that the
# two agree on a sample. Path segments never start with a dot (no "..", no ".page"
# collisions); the query has no slash and no dot (no traversal; the dots of the file
# name stay unambiguous).
SAFE_PATH = re.compile(r"(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*/?")
SAFE_QUERY = re.compile(r"[A-Za-z0-9_~%+=&-]{0,200}")
SAFE_HOST = re.compile(r"[a-z0-9-][a-z0-9.-]*:[0-9]+")
# What nginx replays for a file, per namespace and variant: the extension (whose type
# nginx sends) and the exact headers the app must have sent for the file to be written.
CACHE_CONTROL = "public, max-age=0, s-maxage=300"
REPLAYED: dict[tuple[str, str], tuple[str, dict[str, str]]] = {
    ("frontend", "html"): ("html", {"content-type": "text/html; charset=utf-8", "vary": "Cookie"}),
    ("frontend", "json"): ("html", {"content-type": "text/html; charset=utf-8", "vary": "Cookie"}),
    ("backend", "json"): (
        "json",
        {"content-type": "application/json", "vary": "Accept, Cookie"},
    ),
    ("backend", "html"): (
        "html",
        {"content-type": "text/html; charset=utf-8", "vary": "Accept, Cookie"},
    ),
}
# Headers of the app's answer that nginx sets by itself for a file (or never replays).
NOT_COMPARED = {"content-length", "x-request-id", "x-cache"}


def file_name(
    namespace: str, variant: str, request: tuple[str, str, str], headers: list[tuple[str, str]]
) -> str | None:
    """The file nginx would serve a request for ``(host, path, query)`` from, or None
    when nginx could not replay this answer exactly (then Python keeps its hits)."""
    replay = REPLAYED.get((namespace, variant))
    host, path, query = request
    if replay is None or not (
        SAFE_HOST.fullmatch(host) and SAFE_PATH.fullmatch(path) and SAFE_QUERY.fullmatch(query)
    ):
        return None
    extension, expected = replay
    sent = {k.lower(): v for k, v in headers if k.lower() not in NOT_COMPARED}
    if sent != {**expected, "cache-control": CACHE_CONTROL}:
        return None
    name = f"{host}/{namespace}/{variant}{path}.{query}.{extension}"
    # A name nginx could not open either (ENAMETOOLONG): not an error, just no file.
    if max(len(part) for part in name.split("/")) > 255:
        return None
    return name


@dataclass
class FilePages:
    """A page store (the authority) whose generations are mirrored as directories."""

    inner: PageStore
    root: Path
    # nginx cannot expire a file: a whole generation lives at most this long (the
    # answers' s-maxage), so that nothing outlives what uWSGI's cache would keep (say,
    # pages of the previous templates after a reload).
    timeout: float = 300
    name: str = ""
    failing: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.name = self.name or f"{self.inner.name}+files"

    def generation(self) -> str | None:
        """The inner store's current generation, renewed when its files are too old."""
        token = self.inner.generation()
        if token is not None and self._expired():
            with open(self.root / ".lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if self._expired():  # not renewed by another worker meanwhile
                    return self._renew_locked()
            token = self.inner.generation()
        return token

    def _expired(self) -> bool:
        try:
            # The symlink's own time: when this generation became current.
            started = os.lstat(self.root / CURRENT).st_mtime
        except FileNotFoundError:
            return False  # no files (renewal failed): nothing for nginx to serve stale
        return time.time() - started > self.timeout

    def renew(self) -> str:
        """A new generation in the store, then its directory, then ``current`` swapped."""
        self.root.mkdir(mode=0o755, parents=True, exist_ok=True)
        # One renewal at a time across workers, or one could remove the directory that
        # another has just made current.
        with open(self.root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._renew_locked()

    def withdraw(self) -> None:
        """Let nginx serve no file until the next renewal (an invalidation the store could
        not take: the old generation's files must not outlive it). Never raises."""
        try:
            (self.root / CURRENT).unlink(missing_ok=True)
        except OSError as exc:
            self._failed("could not withdraw the page files", exc)

    def _renew_locked(self) -> str:
        # Whatever fails below, nginx must not go on serving the old generation.
        (self.root / CURRENT).unlink(missing_ok=True)
        token = self.inner.renew()
        try:
            self._swap(token)
        except OSError as exc:
            # The store is renewed (freshness holds); nginx must not serve the old
            # generation: remove the link so that every request goes to Python.
            self._failed("could not switch the pages directory", exc)
            self.withdraw()
        return token

    def _swap(self, token: str) -> None:
        (self.root / token).mkdir(mode=0o755)
        link = self.root / f".{CURRENT}.{token}"
        link.symlink_to(token)
        os.replace(link, self.root / CURRENT)  # rename(2): atomic for every reader
        for entry in self.root.iterdir():
            if entry.name in (token, CURRENT, ".lock"):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def get(self, generation: str, key: str) -> Any:
        """The inner store's entry."""
        return self.inner.get(generation, key)

    def set(self, generation: str, key: str, entry: Any, timeout: int) -> bool:
        """Store in the inner store (files are published separately, see ``publish``)."""
        return self.inner.set(generation, key, entry, timeout)

    def evictions(self) -> int | None:
        """The inner store's evictions."""
        return self.inner.evictions()

    def publish(self, generation: str, name: str, body: bytes) -> bool:
        """Write ``body`` as ``name`` in ``generation``'s directory, atomically; never
        raises: a failure is logged once and the hit stays with Python."""
        base = self.root / generation
        if not base.is_dir():  # an old generation, already removed: keep nothing
            return False
        target = base / name
        try:
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(body)
                os.chmod(temp, 0o644)  # nginx's workers (www-data) read it
                os.replace(temp, target)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            self._failed("could not write a page file", exc)
            return False
        if self.failing:
            with self.lock:
                self.failing = False
            log.warning("page files are written again")
        return True

    def _failed(self, what: str, exc: OSError) -> None:
        with self.lock:
            first, self.failing = not self.failing, True
        if first:
            log.error("%s (%s); nginx leaves those hits to Python", what, exc)
