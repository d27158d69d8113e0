"""Test only: every uWSGI worker that imports this module starts SLOW_START_SECONDS late.

tests/support/service.py's start_slowly puts ``UWSGI_IMPORT=tests.support.slow_start``
in the installed service's environment (uWSGI takes any option from a ``UWSGI_<OPTION>``
variable). With lazy-apps each worker runs that import after fork, before it loads the
app: every start, a chain reload's included, takes that much longer.
"""

import os
import sys
import time

seconds = float(os.environ["SLOW_START_SECONDS"])
started = time.monotonic()
time.sleep(seconds)
# In uWSGI's log: the service tests count these lines.
late = time.monotonic() - started
print(f"slow_start: worker {os.getpid()} started {late:.1f} s late", file=sys.stderr, flush=True)
