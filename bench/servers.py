"""The servers `make bench` measures, each started here and stopped by PID.

The gateway runs as `make run` runs it (deploy/run). The references run beside it:
the same uwsgi.ini serving another module (the bare API app, the 2012 app) behind the
same nginx.conf, gunicorn sync with the same worker count behind nginx, and nginx alone
serving files (the stylesheet, and a cached page's exact bytes).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from gateway.mounts import MOUNTS
from gateway.nginx import site_values
from gateway.render import fill
from gateway.settings import Base
from tests.support.http import free_port, wait_until_healthy
from tests.support.stack import REPO, VENV, launch

WORKERS = 4


@dataclass
class Process:
    """A server started here, stopped by its PID."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM if self.name != "uwsgi" else signal.SIGINT)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)


@dataclass
class Site:
    """One nginx in front of one app server, on its own port and folder."""

    name: str
    base: Path
    port: int = field(default_factory=free_port)
    processes: list[Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        log = self.base / f"{name}.log"
        popen = launch(argv, env, log)
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def nginx(self, site_conf: str) -> None:
        """Start a private nginx with ``site_conf`` as its only site."""
        conf = self.base / "nginx"
        (conf / "logs").mkdir(parents=True, exist_ok=True)
        (conf / "gateway.conf").write_text(site_conf)
        main_conf = {
            "USER_LINE": "user root;",
            "RUN_DIR": str(self.base),
            "LOG_DIR": str(conf / "logs"),
        }
        main_template = (REPO / "deploy" / "nginx-main.conf").read_text()
        (conf / "nginx.conf").write_text(fill(main_template, main_conf))
        self.start(
            "nginx",
            ["nginx", "-p", str(conf), "-c", str(conf / "nginx.conf"), "-g", "daemon off;"],
            dict(os.environ),
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def uwsgi_site(
    base: Path, name: str, module: str, env: dict[str, str], static_home: Path = REPO
) -> Site:
    """uwsgi.ini serving ``module`` behind nginx.conf: the gateway's own settings; nginx
    serves the static folders of ``static_home`` (which holds deploy/ too: the site's
    snippets)."""
    site = Site(name, base / name)
    (site.base / "nginx").mkdir(parents=True)
    run_env = {
        **env,
        "GATEWAY_HOME": str(REPO),
        "GATEWAY_VENV": str(VENV),
        "GATEWAY_RUN_DIR": str(site.base),
        "GATEWAY_PROCESSES": str(WORKERS),
    }
    for key in ("GATEWAY_UWSGI_USER", "GATEWAY_UWSGI_GROUP", "GATEWAY_SOCKET_OWNER"):
        run_env.pop(key, None)
    site.start(
        "uwsgi",
        [str(VENV / "bin" / "uwsgi"), "--ini", str(REPO / "uwsgi.ini"), "--module", module],
        run_env,
    )
    site_conf = {
        "LISTEN": f"127.0.0.1:{site.port}",
        "SERVER_NAMES": "127.0.0.1 localhost",
        "HOME": str(static_home),
        "RUN_DIR": str(site.base),
        "LOG_DIR": str(site.base / "nginx" / "logs"),
        # The reference apps write no page files: nginx finds none and passes every request.
        "PAGES_DIR": str(site.base / "pages"),
        "TLS_CONF": str(REPO / "deploy" / "nginx" / "no-tls.conf"),
        **site_values(
            {"RESPONSE_CACHE_TIMEOUT": Base.RESPONSE_CACHE_TIMEOUT, "METRICS_CLIENTS": []},
            MOUNTS,
            static_home,
        ),
    }
    wait_for_socket(site.base / "uwsgi.sock")
    site.nginx(fill((REPO / "nginx.conf").read_text(), site_conf))
    return site


def gunicorn_site(base: Path, env: dict[str, str], page: Path) -> Site:
    """gunicorn sync (same worker count) behind nginx, plus nginx serving files alone."""
    site = Site("gunicorn", base / "gunicorn")
    (site.base / "nginx").mkdir(parents=True)
    sock = site.base / "gunicorn.sock"
    site.start(
        "gunicorn",
        [
            str(VENV / "bin" / "gunicorn"),
            "--workers",
            str(WORKERS),
            "--worker-class",
            "sync",
            "--bind",
            f"unix:{sock}",
            "--chdir",
            str(REPO),
            "gateway.wsgi:application",
        ],
        # gunicorn has no uWSGI cache: each worker keeps its own in-process store.
        {**env, "GATEWAY_CACHE_URL": "simple"},
    )
    site.nginx(
        f"""server {{
    listen 127.0.0.1:{site.port};
    access_log off;
    location = /style.css {{ alias {REPO}/frontend_app/static/style.css; }}
    location = /page.html {{ alias {page}; default_type text/html; }}
    location / {{
        proxy_pass http://unix:{sock}:;
        proxy_set_header Host $host:$server_port;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }}
}}
"""
    )
    wait_for_socket(sock)
    wait_until_healthy(site.port, 60)
    return site


def wait_for_socket(path: Path, seconds: float = 60) -> None:
    """Wait until a server created its unix socket."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.05)
