"""Two nodes (separate uWSGI masters, same code, same SQLite file) behind one nginx
upstream, sharing one Redis: a write through one node is read fresh through the other.

Each node also listens on its own loopback HTTP port, so the test can choose the node.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.page_files import nginx_values
from gateway.settings import Base
from tests.integration.conftest import (
    REPO,
    VENV,
    Redis,
    free_port,
    launch,
    render,
    request,
    wait_until_healthy,
)


@dataclass
class Node:
    name: str
    port: int
    process: subprocess.Popen[bytes]


@pytest.fixture
def cluster(public_dir: Path) -> Iterator[tuple[list[Node], int, str]]:
    redis = Redis(free_port(), public_dir)
    redis.start()
    data = public_dir / "data"
    env = {
        "PATH": os.environ["PATH"],
        "GATEWAY_PROFILE": "production",
        "GATEWAY_HOME": str(REPO),
        "GATEWAY_VENV": str(VENV),
        "GATEWAY_DATA_DIR": str(data),
        "GATEWAY_CACHE_URL": f"redis://127.0.0.1:{redis.port}/0",
        "GATEWAY_TRUSTED_HOSTS": "127.0.0.1,localhost",
        "GATEWAY_PROCESSES": "2",
        "GATEWAY_SOCKET_OWNER": "root:www-data",
    }
    subprocess.run([VENV / "bin" / "gateway", "secrets"], env=env, check=True, capture_output=True)
    nodes: list[Node] = []
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name in ("a", "b"):
            run_dir = public_dir / f"run-{name}"
            run_dir.mkdir()
            port = free_port()
            process = launch(
                [
                    VENV / "bin" / "uwsgi",
                    "--ini",
                    REPO / "uwsgi.ini",
                    "--http-socket",
                    f"127.0.0.1:{port}",
                ],
                {**env, "GATEWAY_RUN_DIR": str(run_dir)},
                public_dir / f"node-{name}.log",
            )
            processes.append(process)
            nodes.append(Node(name, port, process))
        for node in nodes:
            wait_until_healthy(node.port, 60)

        # One nginx, the repo's site, its upstream listing both nodes' sockets.
        nginx_dir = public_dir / "nginx"
        for sub in ("", "log"):
            (nginx_dir / sub).mkdir(exist_ok=True)
        port = free_port()
        site = render(
            REPO / "nginx.conf",
            {
                "LISTEN": f"127.0.0.1:{port}",
                "SERVER_NAMES": "127.0.0.1 localhost",
                "HOME": str(REPO),
                "RUN_DIR": str(public_dir / "run-a"),
                "LOG_DIR": str(nginx_dir / "log"),
                # With Redis no node writes page files (one node's files could not
                # follow another's invalidation): nginx finds none and asks the nodes.
                "PAGES_DIR": str(public_dir / "no-pages"),
                "TLS_CONF": str(REPO / "deploy" / "nginx" / "no-tls.conf"),
                **nginx_values(Base.RESPONSE_CACHE_TIMEOUT),
            },
        )
        servers = "".join(
            f"    server unix:{public_dir / f'run-{name}'}/uwsgi.sock max_fails=0;\n"
            for name in ("a", "b")
        )
        site = re.sub(r"(upstream gateway_uwsgi \{\n)(?:.*\n)*?(\})", rf"\g<1>{servers}\g<2>", site)
        assert "run-b" in site
        (nginx_dir / "gateway.conf").write_text(site)
        (nginx_dir / "nginx.conf").write_text(
            render(
                REPO / "deploy" / "nginx-main.conf",
                {
                    "USER_LINE": "user www-data;",
                    "RUN_DIR": str(public_dir),
                    "LOG_DIR": str(nginx_dir / "log"),
                },
            )
        )
        nginx = subprocess.Popen(
            [
                "nginx",
                "-p",
                str(nginx_dir),
                "-c",
                str(nginx_dir / "nginx.conf"),
                "-g",
                "daemon off;",
            ],
            start_new_session=True,
        )
        processes.append(nginx)
        wait_until_healthy(port, 30)
        token = json.loads((data / "secrets.json").read_text())["BACKEND_API_TOKEN"]
        yield nodes, port, token
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        redis.stop()


def test_write_on_one_node_is_read_fresh_on_the_other(
    cluster: tuple[list[Node], int, str],
) -> None:
    (a, b), nginx_port, token = cluster
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    assert a.port != b.port
    for n in range(10):
        writer, reader = (a, b) if n % 2 == 0 else (b, a)
        slug = f"multi-node-{n}"
        for _ in range(2):  # the reader's page is in the shared cache before the write
            request(reader.port, "GET", "/category/testing")
        assert request(reader.port, "GET", "/category/testing").headers["X-Cache"] == "HIT"
        body = {
            "slug": slug,
            "name": slug,
            "category": "testing",
            "summary": "Written on one node.",
            "homepage": "https://example.org/",
        }
        created = request(
            writer.port, "POST", "/backend/api/extensions", headers=auth, body=json.dumps(body)
        )
        assert created.status == 201
        assert slug in request(reader.port, "GET", "/category/testing").text
        assert request(reader.port, "GET", f"/backend/api/extensions/{slug}").status == 200
        # Through nginx, whichever node answers.
        for _ in range(4):
            assert slug in request(nginx_port, "GET", "/category/testing").text

    changed = request(
        b.port,
        "PATCH",
        "/backend/api/extensions/multi-node-0",
        headers=auth,
        body='{"summary": "Changed on node b."}',
    )
    assert changed.status == 200
    assert "Changed on node b." in request(a.port, "GET", "/extensions/multi-node-0").text
