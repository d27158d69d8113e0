"""uWSGI's stats socket, read by the page store (its cache's capacity and evictions) and
by the chain reload (its workers): one reader for both.

    stats = read_stats("/run/gateway/uwsgi-stats.sock")
    stats["workers"], stats["caches"]
"""

from __future__ import annotations

import json
import socket
from typing import Any


def read_stats(path: str, timeout: float = 5.0) -> dict[str, Any]:
    """The JSON uWSGI's master writes to a client of its stats socket at ``path``.

    It holds the variables of requests in flight, bytes as clients sent them: not always
    UTF-8, control characters included (a hostile header). Both are read leniently, so
    no request can make the figures unreadable.
    """
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        data = b"".join(iter(lambda: sock.recv(65536), b""))
    stats: dict[str, Any] = json.loads(data.decode("utf-8", "replace"), strict=False)
    return stats
