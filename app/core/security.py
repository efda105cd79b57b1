"""API keys: random tokens shown once, stored as a prefix plus a SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "xbar_"
PREFIX_LEN = 8


def generate_key() -> tuple[str, str, str]:
    """Return ``(key, prefix, key_hash)``; only the prefix and hash are ever stored."""
    token = secrets.token_urlsafe(32)
    key = f"{KEY_PREFIX}{token}"
    return key, key_prefix(key), hash_key(key)


def key_prefix(key: str) -> str:
    """The public lookup prefix of a key (first 8 characters after ``xbar_``)."""
    return key[len(KEY_PREFIX) : len(KEY_PREFIX) + PREFIX_LEN]


def hash_key(key: str) -> str:
    """SHA-256 hex digest of a key (keys carry 256 bits of entropy, so no slow KDF is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def verify_key(key: str, key_hash: str) -> bool:
    """Whether ``key`` hashes to ``key_hash`` (constant-time comparison)."""
    return hmac.compare_digest(hash_key(key), key_hash)
