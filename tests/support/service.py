"""The installed `uwsgi` service (deploy/install, root only) as an operator drives it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support.stack import pid_alive

# The service's environment: /etc/init.d/uwsgi and the systemd unit read it at start.
DEFAULTS = Path("/etc/default/gateway")
# uWSGI takes any option from a UWSGI_<OPTION> variable; `import` runs in each worker,
# before it loads the app (tests/support/slow_start.py).
SLOW_START = re.compile(r"(?m)^(UWSGI_IMPORT|SLOW_START_SECONDS)=.*\n")


def service(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `service uwsgi ...` as an operator would (it runs the script with env -i)."""
    return subprocess.run(["service", "uwsgi", *args], capture_output=True, text=True, timeout=180)


def nginx_running() -> bool:
    pidfile = Path("/run/nginx.pid")
    return pidfile.exists() and pid_alive(int(pidfile.read_text()))


def start_slowly(seconds: float) -> None:
    """Restart the service with workers that each take ``seconds`` longer to start, as a
    heavy release's would: reloads are then tested against slow starts."""
    with DEFAULTS.open("a") as defaults:
        defaults.write(f"UWSGI_IMPORT=tests.support.slow_start\nSLOW_START_SECONDS={seconds}\n")
    restarted = service("restart")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr


def without_slow_start(defaults: str) -> str:
    """The text of /etc/default/gateway without what start_slowly added."""
    return SLOW_START.sub("", defaults)
