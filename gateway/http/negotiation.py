"""Accept and Accept-Encoding negotiation, one rule for the apps and the response cache.

The API answers JSON or, to a client that prefers it (a browser), HTML; every text
answer is gzipped for a client that takes gzip. The cache keys each answer by the same
choices, so the two can never disagree about which variant a request gets::

    preferred_type(request.headers.get("Accept")) == "text/html"
    preferred_encoding(request.headers.get("Accept-Encoding")) == "gzip"
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


# The content codings the gateway produces, in its order of preference.
ENCODINGS = ("gzip", "identity")


@lru_cache(maxsize=256)
def preferred_encoding(accept_encoding: str | None) -> str:
    """The content coding an answer gets: ``gzip`` when the client prefers it (or takes
    it as well as anything else), else ``identity``, which is always acceptable here."""
    best = parse_accept_header(accept_encoding).best_match(ENCODINGS)
    return best or "identity"
