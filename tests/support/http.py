"""A raw HTTP client for served stacks: the path goes out exactly as given, 127.0.0.1 only."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

# The Accept header a browser sends for a page.
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@dataclass
class Reply:
    """One HTTP response, read whole."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        assert self.headers.get_content_type() == "application/json", self.headers
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def request(
    port: int,
    method: str,
    path: str,
    *,
    host: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    body: bytes | str | None = None,
    timeout: float = 15,
    tls: ssl.SSLContext | None = None,
) -> Reply:
    """Send one request to 127.0.0.1:port with the path exactly as given (not normalised);
    over HTTPS with ``tls`` (its certificate checked for 127.0.0.1)."""
    conn: http.client.HTTPConnection
    if tls is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=tls)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        data = body.encode() if isinstance(body, str) else body
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def wait_until_healthy(
    port: int,
    seconds: float,
    host: str = "127.0.0.1",
    path: str = "/_gateway/health",
    tls: ssl.SSLContext | None = None,
) -> float:
    """Poll ``path`` (the gateway's health) until it answers 200; return how long it took."""
    start = time.monotonic()
    while True:
        try:
            if request(port, "GET", path, host=host, timeout=2, tls=tls).status == 200:
                return time.monotonic() - start
        except OSError:
            pass
        if time.monotonic() - start > seconds:
            raise TimeoutError(f"{path} on port {port} did not answer 200 within {seconds}s")
        time.sleep(0.05)
