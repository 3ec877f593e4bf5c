"""The API integration's key: generated, shown once, stored only as a hash.

A key reads `ak_<prefix>_<secret>`. The prefix (public, shown on the installation's
page) tells keys apart; the installation keeps the SHA-256 of the whole key. A key has
256 bits of randomness, so a fast hash is enough: there is nothing to brute-force.
"""

import hashlib
import hmac
import secrets

from django.utils import timezone

KEY_PREFIX = "ak"
HASH_KEY = "key_sha256"
PREFIX_KEY = "key_prefix"
CREATED_KEY = "key_created_at"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_api_key() -> tuple[str, dict]:
    """A new key, and the config entries that identify it without revealing it."""
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return key, {
        PREFIX_KEY: f"{KEY_PREFIX}_{prefix}",
        HASH_KEY: _digest(key),
        CREATED_KEY: timezone.now().isoformat(),
    }


def api_key_matches(installation, presented: str) -> bool:
    """Whether `presented` is the installation's current key (constant-time compare)."""
    stored = installation.config.get(HASH_KEY) or ""
    if not stored or not presented:
        return False
    return hmac.compare_digest(_digest(presented), stored)
