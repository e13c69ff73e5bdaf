"""API keys: created, listed and revoked by an operator, verified by the API.

A key reads ``pa_<key_id>_<secret>``: ``key_id`` (16 hex digits) names the key in lists and
logs; ``secret`` carries 256 random bits. Only a salted SHA-256 digest of the whole key is
stored (a small SQLite file in the serving directory), and digests are compared with
``hmac.compare_digest``. With 256 bits of entropy a fast hash is enough: there is nothing
to guess by brute force, so no slow password hash is needed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# Access tiers, lowest first: a key may call every route of its tier and of those below.
TIERS = ("public", "pro", "internal")
KEYS_FILENAME = "api_keys.sqlite3"
_PREFIX = "pa"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id     TEXT PRIMARY KEY,
    tier       TEXT NOT NULL,
    salt       BLOB NOT NULL,
    digest     BLOB NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)
"""
# Hashed and compared when a key id is unknown, so that costs the same as a wrong secret.
_DUMMY_SALT = bytes(16)
_DUMMY_DIGEST = bytes(32)


def tier_rank(tier: str) -> int:
    """Position of ``tier`` in ``TIERS`` (higher may do more)."""
    return TIERS.index(tier)


@dataclass(frozen=True)
class ApiKey:
    """What is known about a key, never its secret."""

    key_id: str
    tier: str
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _digest(salt: bytes, key: str) -> bytes:
    return hashlib.sha256(salt + key.encode()).digest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class KeyStore:
    """The key file. Reading never creates it, so the API writes nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_dir(cls, serving_dir: Path) -> KeyStore:
        """The store at its usual place, ``<serving_dir>/api_keys.sqlite3``."""
        return cls(serving_dir / KEYS_FILENAME)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=10)) as conn:
            self.path.chmod(0o600)
            with conn:
                conn.execute(_SCHEMA)
                yield conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection | None]:
        if not self.path.exists():
            yield None
            return
        with closing(sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=10)) as conn:
            yield conn

    def create(self, tier: str) -> tuple[str, str]:
        """A new key of ``tier``: returns ``(key_id, key)``. The key is shown only now."""
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; expected one of {', '.join(TIERS)}")
        key_id = secrets.token_hex(8)
        key = f"{_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        salt = secrets.token_bytes(16)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO api_keys (key_id, tier, salt, digest, created_at) VALUES (?, ?, ?, ?, ?)",
                (key_id, tier, salt, _digest(salt, key), _now()),
            )
        return key_id, key

    def list_keys(self) -> list[ApiKey]:
        """Every key ever created, oldest first, revoked ones included."""
        with self._read() as conn:
            if conn is None:
                return []
            rows = conn.execute(
                "SELECT key_id, tier, created_at, revoked_at FROM api_keys ORDER BY created_at, key_id"
            ).fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke(self, key_id: str) -> bool:
        """Revoke a key for good. False when there is no active key of that id."""
        if not self.path.exists():
            return False
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (_now(), key_id),
            )
        return cursor.rowcount == 1

    def verify(self, key: str) -> ApiKey | None:
        """The active key that ``key`` is, or None (unknown, malformed, wrong or revoked)."""
        prefix, _, rest = key.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != _PREFIX or not key_id or not secret:
            return None
        with self._read() as conn:
            row = None if conn is None else conn.execute(
                "SELECT tier, salt, digest, created_at, revoked_at FROM api_keys WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            hmac.compare_digest(_digest(_DUMMY_SALT, key), _DUMMY_DIGEST)  # as much work as a real check
            return None
        tier, salt, digest, created_at, revoked_at = row
        if not hmac.compare_digest(_digest(salt, key), digest) or revoked_at is not None:
            return None
        return ApiKey(key_id, tier, created_at, None)
