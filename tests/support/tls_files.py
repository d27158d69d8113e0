"""A throwaway certificate authority and server certificates for the HTTPS tests, made with
Debian's openssl command (not a test module: a helper the tests share).

    files = make_tls_files(tmp_path)      # files.ca, files.cert, files.key, files.other_key
    context = files.client_context()      # trusts files.ca only
"""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA, a server certificate for localhost and 127.0.0.1 signed by it,
    its key, and another key that matches nothing."""

    ca: Path
    cert: Path
    key: Path
    other_key: Path

    def client_context(self) -> ssl.SSLContext:
        """A client that trusts this CA alone and checks the server's name."""
        return ssl.create_default_context(cafile=str(self.ca))


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_tls_files(folder: Path) -> TlsFiles:
    """Create the files in ``folder`` (readable by nginx's workers, the keys by no one
    else than their owner)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca = folder / "ca.key", folder / "ca.pem"
    key, csr, cert = folder / "server.key", folder / "server.csr", folder / "server.pem"
    other_key = folder / "other.key"
    for path in (ca_key, key, other_key):
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(path))
        path.chmod(0o600)
    _openssl(
        "req", "-x509", "-new", "-key", str(ca_key), "-days", "2", "-out", str(ca),
        "-subj", "/CN=gateway test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    _openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    extensions = folder / "server.ext"
    extensions.write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
    )
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-out", str(cert), "-extfile", str(extensions),
    )  # fmt: skip
    return TlsFiles(ca, cert, key, other_key)
