"""The public website mounted at ``/``: a browsable directory of Flask extensions."""

from flask import Flask

from backend_app import store

# /_gateway/health runs this in the app's context.
health_check = store.check_readable


def init_app(app: Flask) -> None:
    """Wire the site's pages, stars and HTML errors into ``app`` (called by the factory)."""
    from frontend_app import errors, pages

    # The catalogue belongs to the backend; the site opens it read-only.
    store.init_app(app)
    app.register_blueprint(pages.bp)
    errors.init_app(app)
