"""Shared answers mirrored as files, so that nginx answers a hit without entering uWSGI.

    pages = FilePages(UwsgiPages("gateway"), Path(data_dir) / "pages", timeout=300)
    pages.publish(generation, "frontend", "html", (host, path, query), headers, body)

The page store (uWSGI's cache) stays the authority; its generation token names a
directory ``<root>/<token>/``. nginx finds it through a symlink per time slot,
``<root>/slot-<n>``, where ``n`` is the current Unix time without its last
``SLOT_DIGITS`` digits (nginx reads it off ``$msec``). A renewal creates the new
generation's directory, points every slot link from now until ``timeout`` seconds later
at it (each link renamed over the old one: atomic for every reader), then removes the
other generations. So:

- a file is never served past ``timeout`` (the answers' ``s-maxage``) after its
  generation began, even when no request reaches Python: once the last link is in the
  past nginx finds no file and asks the app, which renews the generation;
- by the time the catalogue's write answers, every nginx worker opens files of the new
  generation. A request that looked a file up just before the swap and opens it just
  after finds nothing; nginx.conf sends that 404 to the app (``error_page 404 =``).

A request that rendered old data publishes into the generation it read before it ran:
an old directory, unreachable through the links (or already removed: then nothing is
written). Files are written to a temporary name and renamed, so nginx never reads a
partial file. A generation holds at most ``max_files`` files (the page cache's item
count): past it the oldest tenth is removed, so whatever URLs clients invent, the files
take at most ``max_files`` times the largest answer the cache keeps.

nginx serves ``slot-<n>/<host:port>/<namespace>/<variant><path>.<query>.<ext>`` only when
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gateway.cache.generations import Asked, Entry, PageStore
from gateway.http.etags import stamp_of

log = logging.getLogger(__name__)

SLOT = "slot-"
COUNT = ".count"  # files published into a generation, kept in its directory
# The same rules as the maps in nginx.conf ("Hits before Python"); a test checks that the
# two agree on a sample. Path segments never start with a dot (no "..", no ".page"
# collisions); the query has no slash and no dot (no traversal; the dots of the file
# name stay unambiguous).
SAFE_PATH = re.compile(r"(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*/?")
SAFE_QUERY = re.compile(r"[A-Za-z0-9_~%+=&-]{0,200}")
SAFE_HOST = re.compile(r"[a-z0-9-][a-z0-9.-]*:[0-9]+")
# What nginx replays for a file, per namespace and variant: the extension (whose type
# nginx sends) and the exact headers the app must have sent for the file to be written.
REPLAYED: dict[tuple[str, str], tuple[str, dict[str, str]]] = {
    ("frontend", "html"): (
        "html",
        {"content-type": "text/html; charset=utf-8", "vary": "Cookie, Accept-Encoding"},
    ),
    ("frontend", "json"): (
        "html",
        {"content-type": "text/html; charset=utf-8", "vary": "Cookie, Accept-Encoding"},
    ),
    ("backend", "json"): (
        "json",
        {"content-type": "application/json", "vary": "Accept, Cookie, Accept-Encoding"},
    ),
    ("backend", "html"): (
        "html",
        {"content-type": "text/html; charset=utf-8", "vary": "Accept, Cookie, Accept-Encoding"},
    ),
}
# The content codings of page files: the file name's part, and the header nginx sends.
CODINGS = {"gzip": ("gz", {"content-encoding": "gzip"}), "identity": ("id", {})}
# Headers of the app's answer that nginx sets by itself for a file (or never replays).
NOT_COMPARED = {"content-length", "x-request-id", "x-cache", "etag"}


def cache_control(timeout: int) -> str:
    """The Cache-Control of a shared answer (``gateway.cache.policy``), which nginx replays."""
    return f"public, max-age=0, s-maxage={timeout}"


def slot_digits(timeout: int) -> int:
    """How many trailing digits of the Unix time a slot drops: slots of 10**digits
    seconds, ten to a hundred of them per ``timeout``."""
    return max(0, len(str(max(1, int(timeout)))) - 2)


def nginx_values(timeout: int) -> dict[str, str]:
    """The placeholders of nginx.conf that follow ``RESPONSE_CACHE_TIMEOUT``."""
    return {"S_MAXAGE": str(int(timeout)), "SLOT_DIGITS": str(slot_digits(timeout))}


def file_name(
    namespace: str,
    variant: str,
    asked: Asked,
    headers: list[tuple[str, str]],
    control: str,
) -> tuple[str, int] | None:
    """The file nginx would serve this request from, and its mtime (the ETag's stamp:
    nginx's ETag for the file is then the app's); None when nginx could not replay this
    answer exactly (then Python keeps its hits). ``control`` is the Cache-Control nginx
    sends with every file."""
    replay = REPLAYED.get((namespace, variant))
    if replay is None or not (
        asked.scheme in ("http", "https")
        and SAFE_HOST.fullmatch(asked.host)
        and SAFE_PATH.fullmatch(asked.path)
        and SAFE_QUERY.fullmatch(asked.query)
    ):
        return None
    extension, expected = replay
    coding, coded = CODINGS[asked.encoding]
    sent = {k.lower(): v for k, v in headers if k.lower() not in NOT_COMPARED}
    stamp = stamp_of(next((v for k, v in headers if k.lower() == "etag"), None))
    if stamp is None or sent != {**expected, **coded, "cache-control": control}:
        return None
    name = (
        f"{asked.scheme}/{asked.host}/{namespace}/{variant}{asked.path}.{asked.query}"
        f".{coding}.{extension}"
    )
    # A name nginx could not open either (ENAMETOOLONG): not an error, just no file.
    if max(len(part) for part in name.split("/")) > 255:
        return None
    return name, stamp


@dataclass
class FilePages:
    """A page store (the authority) whose generations are mirrored as directories."""

    inner: PageStore
    root: Path
    # The answers' s-maxage: nginx serves a generation's files at most this long.
    timeout: int = 300
    # Files per generation: the page cache's item count.
    max_files: int = 2000
    name: str = ""
    failing: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    slot_seconds: int = field(init=False)
    control: str = field(init=False)  # the Cache-Control nginx sends with every file

    def __post_init__(self) -> None:
        self.name = self.name or f"{self.inner.name}+files"
        self.slot_seconds = int(10 ** slot_digits(self.timeout))
        self.control = cache_control(self.timeout)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One renewal or publication at a time across workers: a renewal must not remove
        a directory another has just linked, nor a publication miscount its files."""
        self.root.mkdir(mode=0o755, parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _slot(self, at: float) -> int:
        return int(at) // self.slot_seconds

    def _link(self, slot: int) -> Path:
        return self.root / f"{SLOT}{slot}"

    def generation(self) -> str | None:
        """The inner store's current generation, renewed when nginx has no file of it
        to serve any more (its last slot is over, or it was withdrawn)."""
        token = self.inner.generation()
        if token is not None and self._expired():
            with self._locked():
                if self._expired():  # not renewed by another worker meanwhile
                    return self._renew_locked()
            token = self.inner.generation()
        return token

    def _expired(self) -> bool:
        return not os.path.islink(self._link(self._slot(time.time())))

    def renew(self) -> str:
        """A new generation in the store, then its directory, then the slot links."""
        with self._locked():
            return self._renew_locked()

    def withdraw(self) -> None:
        """Let nginx serve no file until the next renewal (an invalidation the store could
        not take: the old generation's files must not outlive it). Never raises."""
        try:
            self._unlink_slots(keep=None)
        except OSError as exc:
            self._failed("could not withdraw the page files", exc)

    def _unlink_slots(self, keep: str | None, since: int = 0) -> None:
        """Remove every slot link but those to ``keep`` from slot ``since`` on."""
        if not self.root.is_dir():
            return
        for entry in os.scandir(self.root):
            if entry.name.startswith(SLOT):
                slot = int(entry.name[len(SLOT) :])
                if keep is None or slot < since or os.readlink(entry.path) != keep:
                    os.unlink(entry.path)

    def _renew_locked(self) -> str:
        # Whatever fails below, nginx must not go on serving the old generation.
        self.withdraw()
        token = self.inner.renew()
        try:
            self._swap(token)
        except OSError as exc:
            # The store is renewed (freshness holds); nginx must not serve the old
            # generation: remove the links so that every request goes to Python.
            self._failed("could not switch the pages directory", exc)
            self.withdraw()
        return token

    def _swap(self, token: str) -> None:
        (self.root / token).mkdir(mode=0o755)
        now = time.time()
        first = self._slot(now)
        # Every slot that ends before the generation is `timeout` seconds old.
        last = self._slot(now + self.timeout) - 1
        for slot in range(first, last + 1):
            temp = self.root / f".{SLOT}{slot}.{token}"
            temp.symlink_to(token)
            os.replace(temp, self._link(slot))  # rename(2): atomic for every reader
        self._unlink_slots(keep=token, since=first)
        for entry in os.scandir(self.root):
            if entry.name in (token, ".lock") or entry.name.startswith(SLOT):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)

    def get(self, generation: str, key: str) -> Entry | None:
        """The inner store's entry."""
        return self.inner.get(generation, key)

    def set(self, generation: str, key: str, entry: Entry, timeout: int) -> bool:
        """Store in the inner store (files are published separately, see ``publish``)."""
        return self.inner.set(generation, key, entry, timeout)

    def evictions(self) -> int | None:
        """The inner store's evictions."""
        return self.inner.evictions()

    def publish(
        self,
        generation: str,
        namespace: str,
        variant: str,
        asked: Asked,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> bool:
        """Write the answer to what was ``asked`` in ``generation``'s directory,
        atomically, when nginx could replay it exactly; never raises: a failure is logged
        once and the hit stays with Python."""
        named = file_name(namespace, variant, asked, headers, self.control)
        if named is None:
            return False
        base = self.root / generation
        try:
            with self._locked():
                if not base.is_dir():  # an old generation, already removed: keep nothing
                    return False
                self._write(base, *named, body)
        except OSError as exc:
            self._failed("could not write a page file", exc)
            return False
        if self.failing:
            with self.lock:
                self.failing = False
            log.warning("page files are written again")
        return True

    def _write(self, base: Path, name: str, stamp: int, body: bytes) -> None:
        """Write one file, its mtime ``stamp``, making room first (called with the lock
        held)."""
        count_file = base / COUNT
        try:
            count = int(count_file.read_text())
        except (FileNotFoundError, ValueError):
            count = 0
        target = base / name
        new = not target.exists()
        if new and count >= self.max_files:
            count = self._evict(base)
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(body)
            os.chmod(temp, 0o644)  # nginx's workers (www-data) read it
            os.utime(temp, (stamp, stamp))  # nginx's ETag for it: the app's
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        if new:
            count_file.write_text(str(count + 1))

    def _evict(self, base: Path) -> int:
        """Remove the oldest tenth of ``base``'s files (and emptied directories), as the
        page cache drops its least recently used answers; the number of files left."""
        files: list[tuple[float, str]] = []
        for folder, dirs, names in os.walk(base, topdown=False):
            for name in names:
                if not name.startswith("."):
                    path = os.path.join(folder, name)
                    # ctime: when it was written (its mtime is the ETag's stamp).
                    files.append((os.stat(path).st_ctime, path))
            for name in dirs:
                try:
                    os.rmdir(os.path.join(folder, name))  # only when empty
                except OSError:
                    pass
        files.sort()
        drop = max(1, len(files) // 10) if len(files) >= self.max_files else 0
        for _, path in files[:drop]:
            os.unlink(path)
        return len(files) - drop

    def _failed(self, what: str, exc: OSError) -> None:
        with self.lock:
            first, self.failing = not self.failing, True
        if first:
            log.error("%s (%s); nginx leaves those hits to Python", what, exc)
