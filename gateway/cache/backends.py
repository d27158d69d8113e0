"""Cache stores chosen by ``GATEWAY_CACHE_URL``, shared by every app of the process.

flask-caching builds one backend object per ``init_app``: two ``SimpleCache`` objects
would be two dicts, and the backend's invalidation would never reach the frontend.
``shared_store`` is used as ``CACHE_TYPE`` and returns the same store for the same URL.

URLs:

- ``simple`` or ``simple://NAME``: an in-process dict (development, tests);
- ``uwsgi://NAME``: uWSGI's ``cache2`` called NAME, shared by all workers (production);
- ``redis://HOST:PORT/DB``: Redis, shared by every node.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask_caching.backends.base import BaseCache
from flask_caching.backends.simplecache import SimpleCache

from gateway.build_id import REPO_ROOT
from gateway.cache.files import FilePages
from gateway.cache.generations import PageStore, RedisPages, SimplePages, UwsgiPages
from gateway.settings import ConfigError

SCHEMES = ("simple", "uwsgi", "redis")
# A frozen Redis must not hang a worker: connect and read give up after this long.
REDIS_TIMEOUT = 0.25

_stores: dict[str, BaseCache] = {}
# One in-process page store per URL too: gateways built twice in one process share it.
_simple_pages: dict[str, SimplePages] = {}
_lock = threading.Lock()


def cache_settings(url: str) -> dict[str, Any]:
    """The flask-caching settings for ``url``; raises ``ConfigError`` on a bad URL."""
    scheme = urlsplit(url).scheme or url
    if scheme not in SCHEMES:
        raise ConfigError([f"GATEWAY_CACHE_URL {url!r}: unsupported scheme {scheme!r}"])
    return {"CACHE_TYPE": "gateway.cache.backends.shared_store", "CACHE_URL": url}


def _build(url: str, options: dict[str, Any]) -> BaseCache:
    """Create the store for ``url``."""
    parts = urlsplit(url)
    scheme = parts.scheme or url
    if scheme == "simple":
        return SimpleCache(**options)
    if scheme == "uwsgi":
        from flask_caching.contrib.uwsgicache import UWSGICache

        return UWSGICache(cache=parts.netloc, **options)
    from flask_caching.backends.rediscache import RedisCache
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return RedisCache(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 6379,
        db=int(parts.path.strip("/") or 0),
        password=parts.password,
        key_prefix="gateway:",
        socket_timeout=REDIS_TIMEOUT,
        socket_connect_timeout=REDIS_TIMEOUT,
        # One attempt: redis-py would otherwise retry with back-off for seconds, and
        # the response cache already skips a failing store and tries it again later.
        retry=Retry(NoBackoff(), 0),
        **options,
    )


def shared_store(
    app: Any, config: dict[str, Any], args: list[Any], options: dict[str, Any]
) -> BaseCache:
    """flask-caching factory: the one store of this process for ``CACHE_URL``."""
    url = config["CACHE_URL"]
    with _lock:
        if url not in _stores:
            _stores[url] = _build(url, options)
        return _stores[url]


def check_cache_url(url: str) -> str:
    """The URL ``gateway check`` may build with outside uWSGI, after validating ``url``.

    uWSGI's cache exists only inside uWSGI: outside it, the caches the gateway uses
    (``NAME`` and ``NAME-pages``, gateway.cache.generations) must be ones that uwsgi.ini
    declares (``cache2 = name=...``), and the check builds on a local store.
    """
    cache_settings(url)
    if urlsplit(url).scheme != "uwsgi" or importlib.util.find_spec("uwsgi") is not None:
        return url
    name = urlsplit(url).netloc
    declared = re.findall(
        r"^cache2\s*=\s*name=([^,\s]+)", (REPO_ROOT / "uwsgi.ini").read_text(), re.M
    )
    missing = [n for n in (name, f"{name}-pages") if n not in declared]
    if missing:
        raise ConfigError(
            [f"GATEWAY_CACHE_URL {url!r}: uwsgi.ini declares no cache2 {n!r}" for n in missing]
        )
    return "simple://gateway-check"


def page_store(url: str, shared: Any, files: Path | None = None, timeout: float = 300) -> PageStore:
    """The page store for ``GATEWAY_CACHE_URL`` ``url``, beside flask-caching's ``shared``;
    with uWSGI's cache, mirrored as files under ``files`` for nginx (gateway.cache.files)."""
    parts = urlsplit(url)
    scheme = parts.scheme or url
    if scheme == "uwsgi":
        # Only here: uWSGI's cache is one node's, like the files. With Redis (several
        # nodes) a file on one node could not follow another node's invalidation.
        pages = UwsgiPages(parts.netloc)
        if files is not None:
            return FilePages(pages, files, int(timeout), max_files=pages.capacity())
        return pages
    if scheme == "redis":
        # The same connection pool and timeouts as flask-caching's store.
        return RedisPages(url, shared._write_client)
    with _lock:
        return _simple_pages.setdefault(url, SimplePages(url))
