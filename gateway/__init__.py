"""A multi-app WSGI gateway: the website at ``/`` and the JSON API at ``/backend``."""

from gateway.compose import build_gateway
from gateway.factory import create_app

__all__ = ["build_gateway", "create_app"]
