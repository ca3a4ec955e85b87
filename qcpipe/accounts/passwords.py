"""Passwords, kept only as argon2id hashes (argon2-cffi's defaults, RFC 9106's second choice)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when a name is unknown, so that a login takes as long for a name that does
    not exist as for a wrong password: timing tells nothing about which names exist. Made on first
    use, not at import: every CLI command imports this module."""
    return _HASHER.hash("qcpipe: no such user")

MIN_LENGTH = 8


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)
