"""uWSGI's master imports standard library modules once for every worker
(deploy/uwsgi_preload.py), and each worker still starts on its own random state."""

from __future__ import annotations

from pathlib import Path

from bench.servers import uwsgi_site
from tests.support.http import request, wait_until_healthy


def test_workers_share_the_preloaded_modules_and_reseed_random(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    site = uwsgi_site(tmp_path, "forked", "tests.support.forked_app:application", {})
    try:
        wait_until_healthy(site.port, 60, path="/")
        seen: dict[str, tuple[str, str]] = {}
        for _ in range(200):
            pid, preloaded, draw = request(site.port, "GET", "/").body.decode().split()
            seen[pid] = (preloaded, draw)
            if len(seen) == 4:
                break
    finally:
        site.stop()
    assert len(seen) >= 2, seen  # answers from several workers
    assert {preloaded for preloaded, _ in seen.values()} == {"True"}, seen
    draws = [draw for _, draw in seen.values()]
    assert len(set(draws)) == len(draws), seen  # no two workers share a random state
