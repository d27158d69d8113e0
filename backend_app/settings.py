"""The API's own settings; the profile and the environment (``BACKEND_*``) refine them."""

ENV_PREFIX = "BACKEND"
# Its own cookie name and (through the mount prefix) Path=/backend: the site's session
# cookie is never read, overwritten or cleared by the API, and the other way round.
SESSION_COOKIE_NAME = "gateway_api_session"
SECRET_KEY = None
# The bearer token for writes: from the environment or the generated secrets file.
API_TOKEN = None
REQUIRED_SECRETS = ("SECRET_KEY", "API_TOKEN")
API_VERSION = "1.0"
PER_PAGE = 20
MAX_PER_PAGE = 100
# Far more pages than the catalogue has; a larger number is a 400, not a huge OFFSET.
MAX_PAGE = 100_000
MAX_QUERY_LENGTH = 100
# How long a sign-in of the browsable API lasts (seconds); its cookie expires with it.
PERMANENT_SESSION_LIFETIME = 8 * 3600
