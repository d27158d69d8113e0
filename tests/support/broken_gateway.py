"""A gateway whose own response cache fails on every request (test_edges): what uWSGI and
nginx answer when a layer around the apps, not an app, breaks."""

from typing import Any

from gateway.cache.middleware import ResponseCache
from gateway.compose import build_gateway


def _broken(self: ResponseCache, path: str) -> Any:
    raise RuntimeError("a layer of the gateway broke")


ResponseCache.route_of = _broken  # type: ignore[method-assign]
application = build_gateway()
