"""Unbound extension objects, bound to each app by the factory."""

from flask_caching import Cache
from flask_debugtoolbar import DebugToolbarExtension
from flask_wtf.csrf import CSRFProtect

# One Cache object serves every app; its store is shared because CACHE_TYPE points at
# gateway.stores.shared_store, which hands every app the same backend.
cache = Cache()
toolbar = DebugToolbarExtension()
csrf = CSRFProtect()
