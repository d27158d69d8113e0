"""A multi-app WSGI gateway: the website at ``/`` and the JSON API at ``/backend``."""

from gateway.factory import create_app
from gateway.mounts import build_gateway

__all__ = ["build_gateway", "create_app"]
