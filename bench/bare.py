"""The API app alone, no dispatcher, no gateway middleware: ``bench.bare:application``.

The reference for what the composition costs, served by the same uWSGI and nginx.
"""

from gateway.factory import create_app

application = create_app("backend_app", None)
