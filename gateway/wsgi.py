"""The WSGI entry point: ``gateway.wsgi:application`` (uWSGI, gunicorn, tests)."""

import os
import time

from gateway.compose import build_gateway

# Test-only: make every worker start slowly, to prove reloads lose no request.
time.sleep(float(os.environ.get("GATEWAY_TEST_STARTUP_DELAY", "0")))

application = build_gateway()
