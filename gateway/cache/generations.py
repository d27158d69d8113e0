"""Where the response cache keeps shared answers, one data generation at a time.

Every stored answer belongs to the generation that was current when its request began;
an invalidation starts a new generation and drops the old one whole, so stale entries
become unreachable at once and their memory is reclaimed, never left to pile up:

- ``SimplePages``: one dict per generation, in this process (development, tests);
- ``UwsgiPages``: uWSGI's cache2 ``<name>-pages`` for answers (cleared on invalidation)
  and the generation token in cache2 ``<name>``, shared by every worker of the master;
- ``RedisPages``: one Redis hash per generation (``UNLINK``ed on invalidation), shared
  by every node.

A slow request that read old data and stores its answer after an invalidation writes
into its own, old generation: unreachable, and reclaimed (cleared, evicted or expired).
Each store method may raise; the response cache guards every call.

    pages = page_store("redis://127.0.0.1:6379/0", shared)   # gateway.cache.backends
    token = pages.generation() or pages.renew()
    pages.set(token, key, entry, timeout=300)
"""

from __future__ import annotations

import pickle
import threading
import uuid
from typing import Any, Protocol

from cachelib import SimpleCache

from gateway.uwsgi_stats import read_stats

GENERATION_KEY = "gateway:generation"


# A stored answer: its status line, headers and body.
Entry = tuple[str, list[tuple[str, str]], bytes]


class Asked(Protocol):
    """What a request asked for, as the response cache read it (its ``Requested``)."""

    @property
    def scheme(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def query(self) -> str: ...
    @property
    def encoding(self) -> str: ...


class PageStore(Protocol):
    """What the response cache needs of a store; every method may raise (the cache
    guards each call)."""

    name: str

    def generation(self) -> str | None:
        """The current generation token, or None when there is none yet."""

    def renew(self) -> str:
        """Start a new generation, drop the previous one whole, return the new token."""

    def get(self, generation: str, key: str) -> Entry | None:
        """The entry stored under ``key`` in ``generation``, or None."""

    def set(self, generation: str, key: str, entry: Entry, timeout: int) -> bool:
        """Store ``entry``; False when the store refused it."""

    def evictions(self) -> int | None:
        """Entries the store dropped to make room, when it counts them."""

    def publish(
        self,
        generation: str,
        namespace: str,
        variant: str,
        asked: Asked,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> bool:
        """Also keep a stored answer where nginx serves it without Python; never raises."""

    def withdraw(self) -> None:
        """Let nginx serve nothing of this store until the next renewal; never raises."""


class WithoutFiles:
    """The part of ``PageStore`` that stores nginx does not read have: nothing to do."""

    def publish(
        self,
        generation: str,
        namespace: str,
        variant: str,
        asked: Asked,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> bool:
        """Nothing is published: nginx reads no file of this store."""
        return False

    def withdraw(self) -> None:
        """Nothing to withdraw."""


def _token() -> str:
    return uuid.uuid4().hex


class SimplePages(WithoutFiles):
    """Generations in this process's memory."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._token: str | None = None
        self._pages: dict[str, SimpleCache] = {}
        self._lock = threading.Lock()

    def generation(self) -> str | None:
        return self._token

    def renew(self) -> str:
        with self._lock:
            self._token = _token()
            self._pages = {self._token: SimpleCache(threshold=2000)}
            return self._token

    def get(self, generation: str, key: str) -> Entry | None:
        pages = self._pages.get(generation)
        return None if pages is None else pages.get(key)

    def set(self, generation: str, key: str, entry: Entry, timeout: int) -> bool:
        pages = self._pages.get(generation)
        if pages is None:  # an old generation's answer is simply not kept
            return True
        return bool(pages.set(key, entry, timeout))

    def evictions(self) -> int | None:
        return None


class UwsgiPages(WithoutFiles):
    """uWSGI's cache2: answers in ``<name>-pages``, the token in ``<name>``."""

    def __init__(self, name: str) -> None:
        import uwsgi  # only importable inside uWSGI

        self.uwsgi = uwsgi
        self.name = name
        self.pages = f"{name}-pages"
        # uWSGI answers None for a cache it does not have, even on a write: refuse to
        # start here rather than skip the store on every request.
        for cache in (name, self.pages):
            if not uwsgi.cache_update("gateway:probe", b"1", 1, cache):
                raise RuntimeError(f"uwsgi.ini declares no cache2 named {cache!r}")
            uwsgi.cache_del("gateway:probe", cache)

    def generation(self) -> str | None:
        token = self.uwsgi.cache_get(GENERATION_KEY, self.name)
        return token.decode() if token else None

    def renew(self) -> str:
        token = _token()
        if not self.uwsgi.cache_update(GENERATION_KEY, token.encode(), 0, self.name):
            raise RuntimeError(f"uWSGI cache {self.name!r} did not keep the generation")
        if self.uwsgi.cache_clear(self.pages) is None:
            raise RuntimeError(f"uWSGI cache {self.pages!r} could not be cleared")
        return token

    def get(self, generation: str, key: str) -> Entry | None:
        raw = self.uwsgi.cache_get(f"{generation}:{key}", self.pages)
        return None if raw is None else pickle.loads(raw)

    def set(self, generation: str, key: str, entry: Entry, timeout: int) -> bool:
        raw = pickle.dumps(entry, pickle.HIGHEST_PROTOCOL)
        return bool(self.uwsgi.cache_update(f"{generation}:{key}", raw, timeout, self.pages))

    def _stats(self) -> dict[str, Any] | None:
        """``<name>-pages``'s entry of uWSGI's stats (the master's stats socket), or None
        without one."""
        path = self.uwsgi.opt.get("stats")
        if not path:
            return None
        stats = read_stats(path.decode() if isinstance(path, bytes) else path, timeout=1)
        return next((c for c in stats.get("caches", []) if c.get("name") == self.pages), None)

    def capacity(self) -> int:
        """How many answers ``<name>-pages`` holds (its ``items`` in uwsgi.ini)."""
        found = self._stats()
        if found is None:
            raise RuntimeError(f"uWSGI's stats name no cache2 {self.pages!r} (uwsgi.ini)")
        return int(found["max_items"])

    def evictions(self) -> int | None:
        """uWSGI's own count of least-recently-used answers purged (its stats "full")."""
        found = self._stats()
        return None if found is None else int(found["full"])


class RedisPages(WithoutFiles):
    """Redis: the token in one key, each generation's answers in one hash."""

    def __init__(self, name: str, client: Any) -> None:
        self.name = name
        self.client = client

    def _hash(self, generation: str) -> str:
        return f"gateway:pages:{generation}"

    def generation(self) -> str | None:
        token = self.client.get(GENERATION_KEY)
        return token.decode() if token else None

    def renew(self) -> str:
        token = _token()
        old = self.client.getset(GENERATION_KEY, token)
        if old:
            self.client.unlink(self._hash(old.decode()))
        return token

    def get(self, generation: str, key: str) -> Entry | None:
        raw = self.client.hget(self._hash(generation), key)
        return None if raw is None else pickle.loads(raw)

    def set(self, generation: str, key: str, entry: Entry, timeout: int) -> bool:
        name = self._hash(generation)
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(name, key, pickle.dumps(entry, pickle.HIGHEST_PROTOCOL))
        # The generation expires as a whole, `timeout` after its first answer: no entry
        # lives longer than that, and an abandoned generation goes away by itself.
        pipe.expire(name, timeout, nx=True)
        pipe.execute()
        return True

    def evictions(self) -> int | None:
        return int(self.client.info("stats").get("evicted_keys", 0))
