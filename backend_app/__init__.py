"""The JSON API mounted at ``/backend``, and the catalogue it owns."""

from flask import Flask

from backend_app import store

# /_gateway/health runs this in the app's context.
health_check = store.check_readable


def init_app(app: Flask) -> None:
    """Wire the API's store, blueprints and JSON errors into ``app`` (called by the factory)."""
    from backend_app import api, browse, errors

    store.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(browse.bp)
    errors.init_app(app)
