"""The one comparison of a secret a client presents with the one configured.

same_token(request.form.get("token"), current_app.config.get("API_TOKEN"))
"""

from __future__ import annotations

import hmac


def same_token(given: str | None, expected: object) -> bool:
    """True when ``given`` equals the configured ``expected``; False when either is
    missing or empty. Constant time whatever the tokens' contents (no timing oracle)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), str(expected).encode())
