"""A WSGI app for test_preload: what a worker finds when it imports its app after fork."""

import os
import random
import sys

# Read at import, before this module imports anything itself.
PRELOADED = "http.client" in sys.modules
FIRST_DRAW = random.random()


def application(environ: dict, start_response) -> list[bytes]:  # type: ignore[type-arg, no-untyped-def]
    """``pid preloaded first-draw``, one line."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{os.getpid()} {PRELOADED} {FIRST_DRAW!r}\n".encode()]
