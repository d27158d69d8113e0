"""HTTPS at nginx, as the apps see it: checks of the certificate and key an operator
names (``GATEWAY_TLS_CERT``, ``GATEWAY_TLS_KEY``) and the cookies that go with HTTPS.

nginx terminates TLS (nginx.conf, deploy/nginx/tls.conf); the apps learn the scheme
from nginx's ``HTTPS`` variable only, never from a client header. With TLS configured
their session cookies are ``Secure`` and carry the prefix browsers enforce: ``__Host-``
for the site's (``Path=/``), ``__Secure-`` for the API's (``Path=/backend``)::

    tls_problems("/etc/ssl/certs/site.pem", "/etc/ssl/private/site.key")   # [] when usable
    secure_cookie_name("gateway_site_session", "/")   # "__Host-gateway_site_session"
"""

from __future__ import annotations

import os
import ssl


def tls_problems(cert: str | None, key: str | None) -> list[str]:
    """Why nginx could not serve HTTPS with ``cert`` and ``key``, one line each."""
    if not cert and not key:
        return []
    if not cert or not key:
        given, missing = ("GATEWAY_TLS_CERT", "GATEWAY_TLS_KEY")[:: 1 if cert else -1]
        return [f"{given} is set but {missing} is not: HTTPS needs both"]
    problems = []
    for name, path in (("GATEWAY_TLS_CERT", cert), ("GATEWAY_TLS_KEY", key)):
        if not os.path.exists(path) and os.access(os.path.dirname(path) or ".", os.X_OK):
            problems.append(f"{name} {path} does not exist")
        elif not os.access(path, os.R_OK) and (name == "GATEWAY_TLS_CERT" or os.geteuid() == 0):
            # nginx's master reads the key as root; the app's own user (the service's
            # check) may not, and need not: the pair is checked where it can be read.
            problems.append(f"{name} {path}: cannot read it")
    if problems or not os.access(key, os.R_OK):
        return problems
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        reason = "the key does not match the certificate" if "MISMATCH" in str(exc) else str(exc)
        problems.append(f"GATEWAY_TLS_CERT {cert} and GATEWAY_TLS_KEY {key}: {reason}")
    return problems


def secure_cookie_name(name: str, path: str) -> str:
    """``name`` with the prefix a browser enforces for a Secure cookie on ``path``."""
    if name.startswith(("__Host-", "__Secure-")):
        return name
    return f"__Host-{name}" if path == "/" else f"__Secure-{name}"
