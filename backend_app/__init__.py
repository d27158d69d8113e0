"""The JSON API mounted at ``/backend``, and the catalogue it owns."""

from flask import Flask

from backend_app import catalogue
from backend_app.catalogue import nodes

# /_gateway/health runs these in the app's context.
health_check = catalogue.check_readable
compare_secrets = nodes.compare


def init_app(app: Flask) -> None:
    """Wire the API's catalogue, blueprints and JSON errors into ``app`` (by the factory)."""
    from backend_app import api, browse, errors

    # The API owns the catalogue: it writes it and migrates its schema.
    catalogue.init_app(app, writes=True)
    app.register_blueprint(api.bp)
    app.register_blueprint(browse.bp)
    errors.init_app(app)
