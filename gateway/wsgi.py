"""The WSGI entry point: ``gateway.wsgi:application`` (uWSGI, gunicorn, tests)."""

from gateway.compose import build_gateway

application = build_gateway()
