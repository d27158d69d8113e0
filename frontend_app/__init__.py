"""The public website mounted at ``/``: a browsable directory of Flask extensions."""

from flask import Flask

from backend_app import catalogue

# /_gateway/health runs this in the app's context.
health_check = catalogue.check_readable


def init_app(app: Flask) -> None:
    """Wire the site's pages, stars and HTML errors into ``app`` (called by the factory)."""
    from frontend_app import errors, pages

    # The catalogue belongs to the backend; the site's engine refuses writes.
    catalogue.init_app(app, writes=False)
    app.register_blueprint(pages.bp)
    errors.init_app(app)
