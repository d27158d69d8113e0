"""The WSGI entry point: ``gateway.wsgi:application`` (uWSGI, gunicorn, tests)."""

from gateway.mounts import build_gateway

application = build_gateway()
