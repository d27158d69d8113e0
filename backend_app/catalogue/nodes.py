"""The nodes sharing this database, and whether their secrets agree.

Nodes must share both apps' secret keys and the API token, or a cookie, a form or a
token from one is refused by the other. Each node keeps a row here with a digest of
each secret (never the secret: a digest of a 256-bit random value reveals nothing),
renewed whenever `gateway check` or `/_gateway/health` runs. Comparing its digests with
those of the other nodes seen lately tells a misconfigured node, or a token rotation
still in progress, without blocking either.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from backend_app.catalogue.models import nodes
from backend_app.catalogue.writes import transaction
from gateway.extensions import db

# A node not seen for this long (seconds) is no longer compared with.
LIVE_SECONDS = 600


def digests(secrets: Mapping[str, Any]) -> dict[str, str]:
    """A short sha256 digest of each secret, labelled with its name."""
    return {
        name: hashlib.sha256(f"gateway-node-secret\0{name}\0{value}".encode()).hexdigest()[:16]
        for name, value in sorted(secrets.items())
    }


def compare(node: str, secrets: Mapping[str, Any]) -> dict[str, Any]:
    """Record this node's digests, then name the secrets other live nodes hold differently.

    ``{"node": ..., "status": "same" | "differ" | "alone", "differ": {node: [names]}}``
    """
    mine = digests(secrets)
    stamp = int(time.time())
    values = {"fingerprint": json.dumps(mine), "seen_at": stamp}
    try:
        with transaction() as connection:
            changed = connection.execute(update(nodes).where(nodes.c.name == node).values(**values))
            if changed.rowcount == 0:
                connection.execute(insert(nodes).values(name=node, **values))
    except IntegrityError:
        pass  # another worker of this node inserted it first: its row is as good
    others = db.session.execute(
        select(nodes.c.name, nodes.c.fingerprint).where(
            nodes.c.name != node, nodes.c.seen_at > stamp - LIVE_SECONDS
        )
    ).all()
    differ = {}
    for name, fingerprint in others:
        theirs = json.loads(fingerprint)
        names = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
        if names:
            differ[name] = names
    status = "differ" if differ else ("same" if others else "alone")
    return {"node": node, "status": status, "differ": differ}
