"""The server's signing key (RS256, for OpenID Connect id_tokens) and its public JWKS.

Generated on first use under ``<var>/oauth/signing-key.pem`` with mode 600. Several server
processes may start at once: the key is written to a temporary file and hard-linked into place,
so exactly one key wins and nobody reads a half-written file. The key is never logged.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from ehr.fhir.definitions.paths import var_dir

ALG = "RS256"
_lock = threading.Lock()
_loaded: dict[Path, SigningKey] = {}


@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey
    kid: str
    public_jwk: dict


def key_path() -> Path:
    return var_dir() / "oauth" / "signing-key.pem"


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        with contextlib.suppress(FileExistsError):  # another process won the race: use its key
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _thumbprint(jwk: dict) -> str:
    """RFC 7638 JWK thumbprint, used as the key id."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    return (
        base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")
    )


def signing_key() -> SigningKey:
    path = key_path()
    cached = _loaded.get(path)
    if cached is not None:
        return cached
    with _lock:
        if path not in _loaded:
            if not path.exists():
                _create(path)
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise RuntimeError(f"{path} does not hold an RSA private key")
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            kid = _thumbprint(jwk)
            jwk.update({"kid": kid, "use": "sig", "alg": ALG})
            _loaded[path] = SigningKey(key, kid, jwk)
        return _loaded[path]


def public_jwks() -> dict:
    return {"keys": [signing_key().public_jwk]}
