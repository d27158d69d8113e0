"""What an app tells the gateway around it, without importing it: blinker signals, as
Flask's own.

An app sends, with itself as the sender; ``gateway.compose`` connects the receivers (the
response cache). An app served without a cache sends to no one.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A write to the catalogue committed: every shared answer derived from it is stale.
catalogue_changed = _signals.signal("catalogue-changed")
#: A new catalogue was created (and seeded) as the app started: answers cached from an
#: earlier one must not be served.
catalogue_created = _signals.signal("catalogue-created")
