"""Accept negotiation, one rule for the API's views and the response cache's keys.

The API answers JSON or, to a client that prefers it (a browser), HTML. The cache keys
each answer by the same choice, so the two can never disagree about which variant a
request gets::

    preferred_type(request.headers.get("Accept")) == "text/html"
"""

from __future__ import annotations

from functools import lru_cache

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

# The variants in the server's order of preference: JSON wins a tie (``*/*``).
VARIANTS = ("application/json", "text/html")


# Parsing a browser's Accept header costs ~30 us, and a site sees few distinct ones.
@lru_cache(maxsize=256)
def preferred_type(accept: str | None) -> str:
    """The variant a request with this ``Accept`` header gets: JSON unless HTML is preferred."""
    best = parse_accept_header(accept, MIMEAccept).best_match(VARIANTS)
    return best or VARIANTS[0]
