"""Strong ETags that nginx computes alike for a page file, and If-None-Match.

An answer's ETag is ``"<stamp>-<length>"`` in hex: ``stamp`` a 32-bit digest of the
answer's identity body, ``length`` the length of the bytes sent (gzipped or not). nginx
writes a static file's ETag as ``"<mtime>-<size>"`` in the same hex: the page files
(``gateway.cache.files``) take ``stamp`` as their mtime, so nginx's ETag for a file is
the app's for the same answer, and a revalidation costs the same 304 on either path::

    tag = strong_etag(body_stamp(body), len(body))      # '"5f3c2a91-206d"'
    restamp(tag, len(gzipped))                          # '"5f3c2a91-7ab"'
    none_match('W/"5f3c2a91-206d"', tag)                # True: answer 304
"""

from __future__ import annotations

import hashlib
import re

from werkzeug.http import parse_etags

ETAG = re.compile(r'"([0-9a-f]{1,8})-([0-9a-f]+)"')


def body_stamp(body: bytes) -> int:
    """A 32-bit digest of ``body``: what tells two versions of an answer apart."""
    return int.from_bytes(hashlib.blake2b(body, digest_size=4).digest(), "big")


def strong_etag(stamp: int, length: int) -> str:
    """The ETag nginx would give a file of ``length`` bytes whose mtime is ``stamp``."""
    return f'"{stamp:x}-{length:x}"'


def stamp_of(etag: str | None) -> int | None:
    """The stamp of a gateway ETag, or None for any other value."""
    found = ETAG.fullmatch(etag or "")
    return int(found.group(1), 16) if found else None


def restamp(etag: str, length: int) -> str:
    """``etag`` for the same answer sent as ``length`` bytes (another content coding)."""
    stamp = stamp_of(etag)
    return etag if stamp is None else strong_etag(stamp, length)


def none_match(if_none_match: str, etag: str) -> bool:
    """True when ``If-None-Match`` names ``etag`` (weak comparison, RFC 9110 13.1.2):
    the client's copy is current and the answer is a 304."""
    return parse_etags(if_none_match).contains_weak(etag.strip('"'))
