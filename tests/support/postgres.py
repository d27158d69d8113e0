"""A private PostgreSQL server for the tests: started and stopped by PID, loopback only.

PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres``
user (Debian's package creates it) and the server runs as that user; otherwise as the
current user. Each server has its own data dir and socket dir in a temporary folder and
its own loopback port. Clients connect over TCP with a password (as the gateway does);
the harness itself uses the socket (trust).

    server = Postgres.start(workdir)
    url = server.create_database("t1")     # postgresql+psycopg://gateway:...@127.0.0.1:PORT/t1
    server.stop()
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import psycopg

ROLE = "gateway"


class Owner(TypedDict, total=False):
    """Popen's arguments that run a program as another user."""

    user: int
    group: int
    extra_groups: list[int]


def binaries() -> Path:
    """Debian's newest PostgreSQL server binaries (``make test`` installs postgresql)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: p.parts)
    if not found:
        raise RuntimeError("PostgreSQL is not installed: deploy/bootstrap test installs it")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Postgres:
    """One running server (its postmaster's PID is ``process.pid``)."""

    workdir: Path
    port: int
    password: str
    process: subprocess.Popen[bytes] | None = None
    user: str | None = field(default=None)

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    @property
    def sockets(self) -> Path:
        return self.workdir / "sockets"

    @property
    def log(self) -> Path:
        return self.workdir / "postgres.log"

    def _as_owner(self) -> Owner:
        """Popen arguments that run a program as the cluster's owner."""
        if self.user is None:
            return {}
        entry = pwd.getpwnam(self.user)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    @classmethod
    def start(cls, workdir: Path) -> Postgres:
        """initdb a cluster into ``workdir`` and start it on a free loopback port.

        ``workdir``'s parent must be one the ``postgres`` user may enter.
        """
        server = cls(workdir, _free_port(), secrets.token_urlsafe(16))
        server.user = "postgres" if os.geteuid() == 0 else None
        for path in (workdir, server.sockets):
            path.mkdir(parents=True, exist_ok=True)
            if server.user:
                shutil.chown(path, server.user, server.user)
        done = subprocess.run(
            [
                str(binaries() / "initdb"),
                "-D",
                str(server.data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-locale",
                "-E",
                "UTF8",
            ],
            capture_output=True,
            **server._as_owner(),
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.decode()}")
        server.resume()
        with server.admin() as conn:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{server.password}'")
        return server

    def resume(self) -> None:
        """Start the server on its data dir (again, after ``stop``) and wait until it answers."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(binaries() / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.sockets),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    # Tests lose nothing to a crash of the machine they run on.
                    "-c",
                    "fsync=off",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self._as_owner(),
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                with self.admin():
                    return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not start:\n{self.log.read_text()}") from None
                time.sleep(0.05)

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """A superuser connection over the socket, in autocommit."""
        return psycopg.connect(
            host=str(self.sockets),
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        )

    def url(self, database: str) -> str:
        """The gateway's URL of ``database`` (TCP, password)."""
        return f"postgresql+psycopg://{ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database owned by the gateway's role; its URL."""
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" OWNER {ROLE}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending the connections the test's pools still hold."""
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self, mode: int = signal.SIGINT) -> None:
        """Stop the server by its PID (SIGINT: fast shutdown, SIGKILL: a crash)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(mode)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        if mode == signal.SIGKILL:
            # The postmaster's children outlive it briefly; its shared memory with them.
            time.sleep(0.5)
