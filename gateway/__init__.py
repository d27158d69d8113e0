"""A multi-app WSGI gateway: the website at ``/`` and the JSON API at ``/backend``.

Empty of imports on purpose: an app importing a shared helper (``gateway.extensions``)
runs this first, and must not load the composition. Build it from ``gateway.compose``.
"""
