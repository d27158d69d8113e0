"""Werkzeug's test client, typed for the tests: an answer's ``json`` is ``Any``.

Werkzeug types ``TestResponse.json`` as ``Any | None`` (None when the body is not JSON);
the tests index it directly, and a body that is not JSON fails the test either way.
"""

from __future__ import annotations

from typing import Any, cast

from werkzeug import test
from werkzeug.test import TestResponse


class Response(TestResponse):
    """A test answer whose ``json`` is the parsed body."""

    @property
    def json(self) -> Any:
        return self.get_json()


class Client(test.Client):
    """werkzeug.test.Client answering with :class:`Response`."""

    def __init__(self, application: Any, use_cookies: bool = True) -> None:
        super().__init__(application, Response, use_cookies)

    def open(self, *args: Any, **kwargs: Any) -> Response:
        return cast(Response, super().open(*args, **kwargs))

    def get(self, *args: Any, **kw: Any) -> Response:
        return self.open(*args, method="GET", **kw)

    def post(self, *args: Any, **kw: Any) -> Response:
        return self.open(*args, method="POST", **kw)

    def put(self, *args: Any, **kw: Any) -> Response:
        return self.open(*args, method="PUT", **kw)

    def delete(self, *args: Any, **kw: Any) -> Response:
        return self.open(*args, method="DELETE", **kw)

    def patch(self, *args: Any, **kw: Any) -> Response:
        return self.open(*args, method="PATCH", **kw)

    def options(self, *args: Any, **kw: Any) -> Response:
        return self.open(*args, method="OPTIONS", **kw)

    def head(self, *args: Any, **kw: Any) -> Response:
        return self.open(*args, method="HEAD", **kw)
