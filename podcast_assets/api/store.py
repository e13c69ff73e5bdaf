"""Reading the serving store: one cached read-only snapshot, reopened after each publish.

The publisher swaps a new file in with ``os.replace``. ``ServingReader.snapshot`` stats
the path (a few microseconds) and, when the file is not the one it has open, opens the
new one; requests still running on the previous snapshot finish on it (its file stays
readable until its connection is garbage-collected). Each snapshot also caches rendered
responses, so a cache can never outlive the data it was rendered from.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import duckdb

from podcast_assets.serving import open_store_readonly


class StoreUnavailable(Exception):
    """Nothing has been published yet."""


class Snapshot:
    """One published version of the store, with a bounded cache of rendered responses."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, version: tuple[int, ...], cache_size: int) -> None:
        self.version = version
        self._conn = conn
        self._cache: OrderedDict[Hashable, bytes] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a query (tables are ``store.<name>``); NaN floats come back as None."""
        with self._conn.cursor() as cursor:
            cursor.execute(sql, list(params))
            names = [d[0] for d in cursor.description]
            return [
                {n: None if isinstance(v, float) and math.isnan(v) else v for n, v in zip(names, row, strict=True)}
                for row in cursor.fetchall()
            ]

    def cached(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._cache.get(key)
            if body is not None:
                self._cache.move_to_end(key)
            return body

    def remember(self, key: Hashable, body: bytes) -> None:
        with self._lock:
            self._cache[key] = body
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


class ServingReader:
    """Hands out the snapshot of the store file at ``path`` as it currently is."""

    def __init__(self, path: Path, cache_size: int = 4096) -> None:
        self.path = path
        self._cache_size = cache_size
        self._current: Snapshot | None = None
        self._lock = threading.Lock()

    def _version(self) -> tuple[int, ...]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise StoreUnavailable from None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def snapshot(self) -> Snapshot:
        """The current snapshot; raises ``StoreUnavailable`` before the first publish."""
        version = self._version()
        current = self._current
        if current is not None and current.version == version:
            return current
        with self._lock:
            current = self._current
            if current is None or current.version != version:
                try:
                    conn = open_store_readonly(self.path)
                except FileNotFoundError:
                    raise StoreUnavailable from None
                # A publish landing between the stat and the open leaves this snapshot
                # labelled with the older version: the next call then just reopens.
                current = Snapshot(conn, version, self._cache_size)
                self._current = current
            return current
