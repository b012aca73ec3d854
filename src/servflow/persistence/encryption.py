"""Encrypting and compressing the stored events: the log at rest.

A desk opened with ``cipher_key=`` encrypts every event payload it stores with AES-GCM (the
``eventsourcing`` library's cipher, on the ``cryptography`` package) and decrypts what it
reads; ``compress=True`` compresses payloads with zlib first. Ids, versions, topics and log
positions stay readable (the store indexes them), and the views (queues, SLA, audit log) keep
what they show in plain text: see ``docs/how-to/encryption.md``.
"""

from __future__ import annotations

import binascii
import importlib.util
import os
from base64 import b64decode, b64encode

from servflow.errors import ConfigurationError, shown

__all__ = ["new_cipher_key"]

#: AES key sizes in bytes (AES-128, AES-192, AES-256).
_KEY_SIZES = (16, 24, 32)
_CIPHER_TOPIC = "eventsourcing.cryptography:AESCipher"
_COMPRESSOR_TOPIC = "eventsourcing.compressor:ZlibCompressor"


def new_cipher_key(size: int = 32) -> str:
    """A new random AES key of ``size`` bytes (32: AES-256), as base64 text for ``cipher_key``.

    Keep it outside the database (a secrets manager, an environment variable): whoever has the
    log and the key reads the events; without the key nobody does, servflow included.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size not in _KEY_SIZES:
        msg = f"a cipher key has 16, 24 or 32 bytes, not {shown(size)}"
        raise ConfigurationError(msg)
    return b64encode(os.urandom(size)).decode("ascii")


def storage_settings(*, cipher_key: str | None, compress: bool) -> dict[str, str]:
    """The ``eventsourcing`` settings that encrypt and compress stored events, checked first."""
    settings: dict[str, str] = {}
    if compress:
        settings["COMPRESSOR_TOPIC"] = _COMPRESSOR_TOPIC
    if cipher_key is None:
        return settings
    if not isinstance(cipher_key, str):
        msg = "cipher_key must be base64 text (servflow.new_cipher_key() makes one), or None"
        raise ConfigurationError(msg)
    try:
        size = len(b64decode(cipher_key.strip(), validate=True))
    except (binascii.Error, ValueError):
        size = -1
    if size not in _KEY_SIZES:
        # Never echo the key: a message ends up in logs.
        msg = (
            "cipher_key must be base64 text of a 16, 24 or 32-byte AES key "
            "(servflow.new_cipher_key() makes one)"
        )
        raise ConfigurationError(msg)
    if importlib.util.find_spec("cryptography") is None:
        msg = "encrypting events needs the extra: pip install 'servflow[encryption]'"
        raise ConfigurationError(msg)
    settings["CIPHER_TOPIC"] = _CIPHER_TOPIC
    settings["CIPHER_KEY"] = cipher_key.strip()
    return settings
