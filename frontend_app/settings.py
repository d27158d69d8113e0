"""The website's own settings; the profile and the environment (``FRONTEND_*``) refine them."""

ENV_PREFIX = "FRONTEND"
SESSION_COOKIE_NAME = "gateway_site_session"
SECRET_KEY = None
REQUIRED_SECRETS = ("SECRET_KEY",)
PER_PAGE = 24
# Far more pages than the catalogue has; a larger number is a 400, not a huge OFFSET.
MAX_PAGE = 100_000
RECENT_COUNT = 8
MAX_QUERY_LENGTH = 100
# Stars live in the session cookie, which browsers cap near 4 KB.
MAX_STARS = 40
