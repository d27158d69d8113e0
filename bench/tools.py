"""Debian's wrk and ab, run on loopback and read into numbers."""

from __future__ import annotations

import re
import statistics
import subprocess
from dataclasses import dataclass

LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
SCALE = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class Result:
    """One measurement: requests/s, p50 and p99 in ms, errors (non-2xx/3xx or socket)."""

    rps: float
    p50: float
    p99: float
    errors: int


def header_args(flag: str, headers: dict[str, str]) -> list[str]:
    args: list[str] = []
    for name, value in headers.items():
        args += [flag, f"{name}: {value}"]
    return args


def wrk(
    url: str, seconds: int, connections: int = 100, headers: dict[str, str] | None = None
) -> Result:
    """``wrk -t2 -cN -dS --latency``."""
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    out = subprocess.run(
        [*argv, *header_args("-H", headers or {}), url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    latency = {p: float(v) * SCALE[unit] for p, v, unit in LATENCY.findall(out)}
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket:
        errors += sum(int(n) for n in socket.groups())
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return Result(rps, latency.get("50", 0.0), latency.get("99", 0.0), errors)


def ab(url: str, concurrency: int, requests: int, headers: dict[str, str] | None = None) -> Result:
    """``ab -k -cN -nM`` (keep-alive, as wrk does)."""
    out = subprocess.run(
        [
            "ab",
            "-k",
            "-q",
            f"-c{concurrency}",
            f"-n{requests}",
            *header_args("-H", headers or {}),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    percent = dict(re.findall(r"^\s+(\d+)%\s+(\d+)", out, re.M))
    # A different body length is no error (request ids, the environ dump): only
    # connect, receive and exception failures count, and non-2xx answers.
    failed = re.search(r"Connect: (\d+), Receive: (\d+), Length: \d+, Exceptions: (\d+)", out)
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    errors = (sum(int(n) for n in failed.groups()) if failed else 0) + (
        int(non2xx.group(1)) if non2xx else 0
    )
    return Result(rps, float(percent.get("50", 0)), float(percent.get("99", 0)), errors)


def summary(values: list[float], digits: int = 1) -> str:
    """``median (min-max)`` of a list of numbers, with ``digits`` decimals."""
    if not values:
        return "-"
    median = statistics.median(values)
    return f"{median:,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"
