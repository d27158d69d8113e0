"""The apps' response class: an answer rendered whole reaches the server as a list.

    app.response_class = WholeResponse      # the factory does this for every app

Werkzeug hands every body to the server through a generator and a ``ClosingIterator``,
even a body that is one ``bytes`` already; each layer of the gateway then iterates
through them (about 1 us a request on this machine). A list is what WSGI servers and the
gateway's layers take fastest, and it is what the response cache returns for a hit, so
an answer rendered whole, with nothing to run on close, is sent as one. Streamed and
file bodies, and answers with ``call_on_close`` callbacks, keep Werkzeug's iterator.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Response

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


class WholeResponse(Response):
    """Flask's response, its body a list when it was rendered whole."""

    def get_app_iter(self, environ: WSGIEnvironment) -> Iterable[bytes]:
        """The body for ``environ``: a list for a body rendered whole, else Werkzeug's."""
        # _on_close: what call_on_close registered, which only Werkzeug's iterator runs.
        if not self.is_sequence or self.direct_passthrough or self._on_close:
            return super().get_app_iter(environ)
        status = self.status_code
        # Werkzeug's rule: these answers never carry a body.
        if environ["REQUEST_METHOD"] == "HEAD" or 100 <= status < 200 or status in (204, 304):
            return []
        return list(self.iter_encoded())
