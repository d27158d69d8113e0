"""Load from wrk against a served stack, and the figures the operations tests measure.

MEASURED holds figures (latency during reloads, time to first 200) that the integration
conftest prints at the end of the run and, when GATEWAY_MEASUREMENTS names a file,
writes there as JSON.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MEASURED: dict[str, Any] = {}
# wrk's script: site pages and API reads mixed, one RESULT line of JSON at the end.
MIXED_LUA = Path(__file__).parent / "mixed.lua"


def run_wrk(
    port: int,
    seconds: int,
    connections: int,
    paths: Sequence[str] = (),
    scheme: str = "http",
    headers: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start wrk on 127.0.0.1:port with the mixed site/API script (bounded in time), on
    ``paths`` when given ("html:/x" asks for /x as a browser does), every request
    carrying ``headers``."""
    extra = [f"-H{name}: {value}" for name, value in (headers or {}).items()]
    return subprocess.Popen(
        [
            "wrk",
            *extra,
            f"-c{connections}",
            "-t2",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(MIXED_LUA),
            f"{scheme}://127.0.0.1:{port}/",
            *(["--", *paths] if paths else []),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wrk_result(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    """Wait for wrk and return its RESULT line."""
    output, _ = process.communicate(timeout=timeout)
    line = next((x for x in output.splitlines() if x.startswith("RESULT ")), None)
    assert line, output
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    return result
