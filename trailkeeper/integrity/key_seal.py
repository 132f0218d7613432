"""Private signing keys at rest in a database: a server secret and a key in; sealed bytes out (and back).

AES-256-GCM under a key derived (HKDF-SHA256) from a server secret, never from the secret
itself, so this key and every other use of the secret stay apart. The associated data is the
key's region and fingerprint: a sealed key copied onto another row (another region, another
public key) does not open. Layout: version byte, 12-byte random nonce, ciphertext + 16-byte tag;
the plaintext is the PKCS#8 DER private key. Pure: no I/O, the caller passes the secret in.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from trailkeeper.integrity.keys import KeyStoreError, PublicKey, public_key_der

__all__ = ["SECRET_BYTES", "seal_private_key", "unseal_private_key"]

SECRET_BYTES = 32
_VERSION = b"\x01"
_NONCE_BYTES = 12
_INFO = b"trailkeeper digest signing key seal v1"


def _cipher(secret: bytes) -> AESGCM:
    if len(secret) < SECRET_BYTES:
        raise KeyStoreError(f"the key sealing secret must have at least {SECRET_BYTES} bytes")
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return AESGCM(kdf.derive(secret))


def _associated(public: PublicKey) -> bytes:
    return f"{public.region}\x00{public.fingerprint}".encode("ascii")


def seal_private_key(secret: bytes, public: PublicKey, private: rsa.RSAPrivateKey) -> bytes:
    """``private`` (the half of ``public``) encrypted and bound to ``public``'s region and fingerprint."""
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    nonce = os.urandom(_NONCE_BYTES)  # a fresh random nonce per key: one seal per (key, nonce) pair
    return _VERSION + nonce + _cipher(secret).encrypt(nonce, der, _associated(public))


def unseal_private_key(secret: bytes, public: PublicKey, sealed: bytes) -> rsa.RSAPrivateKey:
    """The private key sealed for ``public``; KeyStoreError if the secret, row or bytes do not match."""
    where = f"private key {public.fingerprint} of {public.region}"
    if sealed[:1] != _VERSION or len(sealed) <= 1 + _NONCE_BYTES:
        raise KeyStoreError(f"{where} is not in a sealed format this trailkeeper knows")
    nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
    try:
        der = _cipher(secret).decrypt(nonce, body, _associated(public))
    except InvalidTag:
        raise KeyStoreError(f"{where} does not open with this database's sealing secret") from None
    loaded = serialization.load_der_private_key(der, password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey) or public_key_der(loaded.public_key()) != public.der:
        raise KeyStoreError(f"{where} does not match its public key")
    return loaded
