"""Replace uWSGI's workers half at a time, each half only when the previous serves again.

    python -m gateway.chain_reload RUN_DIR [TIMEOUT]     (deploy/uwsgi.init's reload)

uWSGI's own chain reload (master FIFO "c") skips workers that respawned on their own
during the chain (max-requests, a crash), and ignores a second request while one runs;
nothing tells when it is done. This drives the same idea from uWSGI's stats socket: a
worker whose process started before the call gets SIGHUP (finish the current request,
exit; the master respawns it, and with lazy-apps the new process imports the code
anew); the next half waits until those workers' new processes accept requests. The
other half keeps serving all along. Exits 0 when no worker of the old code is left.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from gateway.http.metrics import server_count
from gateway.uwsgi_stats import read_stats


def stats(run_dir: str) -> dict[int, dict[str, Any]]:
    """The workers by id, read from uWSGI's stats socket."""
    workers = read_stats(os.path.join(run_dir, "uwsgi-stats.sock"))["workers"]
    return {w["id"]: w for w in workers}


def wait_serving(run_dir: str, worker: int, old_pid: int, deadline: float) -> None:
    """Wait until ``worker`` runs a process other than ``old_pid`` that accepts requests."""
    while time.monotonic() < deadline:
        current = stats(run_dir)[worker]
        if current["pid"] not in (0, old_pid) and current["accepting"]:
            return
        time.sleep(0.1)
    raise TimeoutError(f"worker {worker} did not serve again in time")


def main(run_dir: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    old = {worker: w["pid"] for worker, w in stats(run_dir).items()}
    # Half the workers at a time (one, with two or three): the other half serves all
    # along, and four workers take two restarts' time, not four.
    ids = sorted(old)
    size = max(1, len(ids) // 2)
    for batch in (ids[i : i + size] for i in range(0, len(ids), size)):
        restarting = {}
        for worker in batch:
            pid = old[worker]
            if pid == 0 or stats(run_dir)[worker]["pid"] != pid:
                continue  # already respawned since: it runs the new code
            try:
                os.kill(pid, signal.SIGHUP)
            except ProcessLookupError:
                pass
            restarting[worker] = pid
        for worker, pid in restarting.items():
            wait_serving(run_dir, worker, pid, deadline)
            print(f"worker {worker}: pid {pid} -> {stats(run_dir)[worker]['pid']}", flush=True)
    left = set(old.values()) & {w["pid"] for w in stats(run_dir).values()}
    if not left:
        count_reload(run_dir)
    return 1 if left else 0


def count_reload(run_dir: str) -> None:
    """One more chain reload done, for /_gateway/metrics (gateway_reloads_total)."""
    path = os.path.join(run_dir, "reloads")
    with open(path + ".new", "w") as counted:
        counted.write(f"{server_count(run_dir, 'reloads') + 1}\n")
    os.chmod(path + ".new", 0o644)
    os.replace(path + ".new", path)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 120))
    except (OSError, TimeoutError) as exc:
        print(f"chain reload failed: {exc}", file=sys.stderr)
        sys.exit(1)
