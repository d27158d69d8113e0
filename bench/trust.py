"""The three routes of the 2012 "In Flask we Trust" table: ``bench.trust:application``.

A 13-byte answer, a dump of the WSGI environ (~2900 bytes behind nginx) and a small
template, served by the same uWSGI and nginx as the gateway.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, render_template, request

application = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"))


@application.get("/hello")
def hello() -> str:
    """13 bytes."""
    return "Hello World!\n"


@application.get("/environ")
def environ() -> str:
    """The WSGI environ, one variable a line."""
    return "\n".join(f"{key}: {value!r}" for key, value in sorted(request.environ.items()))


@application.get("/template")
def template() -> str:
    """A small Jinja template."""
    return render_template("small.html", items=["flask", "werkzeug", "jinja"])
