"""Secrets at rest: one MultiFernet over `FIELD_ENCRYPTION_KEYS`.

The first key encrypts; every key decrypts, so keys can be rotated by prepending a new
one and running `rotate_encryption_keys`.
"""

import json
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_secrets(values: dict[str, str]) -> str:
    if not values:
        return ""
    return fernet().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def decrypt_secrets(token: str) -> dict[str, str]:
    if not token:
        return {}
    return dict(_decrypted(tuple(settings.FIELD_ENCRYPTION_KEYS), token))


@lru_cache(maxsize=256)
def _decrypted(keys: tuple[str, ...], token: str) -> tuple[tuple[str, str], ...]:
    """Each token is decrypted once per process: every webhook checks its installation's
    signing secret, and a decryption costs more than the rest of that check."""
    return tuple(json.loads(_fernet(keys).decrypt(token.encode())).items())


def reencrypt(token: str) -> str:
    """The same secrets under the first key."""
    return fernet().rotate(token.encode()).decode() if token else token


def read_secrets(installation) -> dict[str, str]:
    return decrypt_secrets(installation.secrets_encrypted)
