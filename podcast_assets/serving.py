"""The serving store: the gold tables published as one DuckDB file for the API and analysts.

``publish_serving_store`` writes a complete database into a temporary file beside the
target and swaps it in with ``os.replace``. A reader therefore sees either the previous
store or the new one, never a half-written one.

Readers must not open the store with ``duckdb.connect(path)``: DuckDB caches database
instances by path inside a process, so a second ``connect`` to the same path while an
older connection is alive returns the *old* file even after the swap. Open an in-memory
connection and ``ATTACH`` the file read-only instead (``open_store_readonly``); such a
connection keeps reading the file it opened (the inode stays alive until it is closed),
so a reader holding one across a swap simply keeps a consistent older snapshot.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import duckdb
import polars as pl

STORE_FILENAME = "serving.duckdb"
# The name under which the store is attached to a connection (writer and readers alike).
CATALOG = "store"

# Columns each published table must have (CONTRACT.md section 4; ``podcasts`` is silver).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "podcast_monthly_estimates": (
        "month", "podcast_guid", "observed_listens", "estimated_listens",
        "estimate_low", "estimate_high", "providers_reporting", "status",
    ),
    "episode_first_30_days": (
        "podcast_guid", "episode_guid", "published_at", "estimated_listens_30d",
        "estimate_low", "estimate_high", "window_complete",
    ),
    "podcast_trends": (
        "month", "podcast_guid", "estimated_listens", "trend_score", "trend_rank", "is_rising",
    ),
    "creator_popularity": (
        "month", "creator_id", "creator_name", "appearances", "guest_appearances",
        "estimated_listens", "lift", "popularity_rank",
    ),
    "podcasts": ("podcast_guid", "title"),
}

# Physical order of each table: clusters rows so DuckDB's min-max zone maps prune well.
_SORT_KEYS = {
    "podcast_monthly_estimates": "podcast_guid, month",
    "episode_first_30_days": "podcast_guid, published_at",
    "podcast_trends": "podcast_guid, month",
    "creator_popularity": "month, popularity_rank",
    "podcasts": "podcast_guid",
}

_INDEXES = (
    "CREATE INDEX estimates_podcast ON podcast_monthly_estimates (podcast_guid)",
    "CREATE INDEX estimates_month ON podcast_monthly_estimates (month)",
    "CREATE INDEX episodes_podcast ON episode_first_30_days (podcast_guid)",
    "CREATE INDEX trends_podcast ON podcast_trends (podcast_guid)",
    "CREATE INDEX trends_month ON podcast_trends (month)",
    "CREATE INDEX creators_month ON creator_popularity (month)",
    "CREATE INDEX podcasts_guid ON podcasts (podcast_guid)",
)

# Analyst views (also what the API reads). View bodies use unqualified names, so they
# resolve inside whichever catalog the file is opened as.
_VIEWS = (
    """CREATE VIEW podcast_titles AS
       SELECT podcast_guid, max(title) AS title FROM podcasts GROUP BY podcast_guid""",
    """CREATE VIEW monthly_top_podcasts AS
       SELECT e.month,
              row_number() OVER (PARTITION BY e.month
                                 ORDER BY e.estimated_listens DESC, e.podcast_guid) AS chart_rank,
              e.podcast_guid, t.title, e.estimated_listens, e.estimate_low, e.estimate_high,
              e.observed_listens, e.providers_reporting, e.status
       FROM podcast_monthly_estimates e LEFT JOIN podcast_titles t USING (podcast_guid)
       WHERE e.estimated_listens IS NOT NULL""",
    """CREATE VIEW latest_month_top_podcasts AS
       SELECT * FROM monthly_top_podcasts
       WHERE month = (SELECT max(month) FROM monthly_top_podcasts)""",
    """CREATE VIEW rising_podcasts AS
       SELECT r.month, r.trend_rank, r.podcast_guid, t.title, r.estimated_listens, r.trend_score
       FROM podcast_trends r LEFT JOIN podcast_titles t USING (podcast_guid)
       WHERE r.is_rising""",
    """CREATE VIEW latest_month_rising_podcasts AS
       SELECT * FROM rising_podcasts WHERE month = (SELECT max(month) FROM monthly_top_podcasts)""",
)


def store_path(serving_dir: Path) -> Path:
    """Where the serving store lives inside ``Settings.serving_dir``."""
    return serving_dir / STORE_FILENAME


def _check_columns(tables: Mapping[str, pl.DataFrame]) -> None:
    problems = []
    for name, columns in REQUIRED_COLUMNS.items():
        if name not in tables:
            problems.append(f"table {name} is missing")
            continue
        missing = [c for c in columns if c not in tables[name].columns]
        if missing:
            problems.append(f"{name} lacks columns {missing}")
    if problems:
        raise ValueError("cannot publish the serving store: " + "; ".join(problems))


def _select(name: str, frame: pl.DataFrame) -> str:
    """The SELECT that copies the registered frame ``src`` into table ``name``, normalising
    months to DATE and ``published_at`` to TIMESTAMPTZ (naive timestamps are taken as UTC)."""
    casts = []
    if "month" in frame.columns:
        casts.append("CAST(month AS DATE) AS month")
    if "published_at" in frame.columns:
        casts.append("CAST(published_at AS TIMESTAMPTZ) AS published_at")
    replace = f" REPLACE ({', '.join(casts)})" if casts else ""
    return f"SELECT *{replace} FROM src ORDER BY {_SORT_KEYS[name]}"


def _literal(path: Path) -> str:
    """``path`` as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def _fsync(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _connection(connection: duckdb.DuckDBPyConnection | None) -> Iterator[duckdb.DuckDBPyConnection]:
    if connection is not None:
        yield connection
        return
    own = duckdb.connect()
    try:
        yield own
    finally:
        own.close()


def publish_serving_store(
    tables: Mapping[str, pl.DataFrame],
    path: Path,
    *,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> dict[str, int]:
    """Build the serving store at ``path`` from the gold frames and swap it in atomically.

    ``tables`` must hold every name in ``REQUIRED_COLUMNS`` with at least those columns
    (extra columns are published too). ``connection`` is the DuckDB engine to build with
    (e.g. from Dagster's ``DuckDBResource(database=":memory:")``); the new file is
    attached to it, filled, detached, fsynced and then renamed over ``path``.

    Returns the row count of each published table.
    """
    _check_columns(tables)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    counts: dict[str, int] = {}
    try:
        with _connection(connection) as conn:
            conn.execute("SET GLOBAL TimeZone = 'UTC'")
            previous = conn.execute("SELECT current_database()").fetchall()[0][0]
            conn.execute(f"ATTACH {_literal(tmp)} AS {CATALOG}")
            try:
                conn.execute(f"USE {CATALOG}")
                for name in REQUIRED_COLUMNS:
                    frame = tables[name]
                    conn.register("src", frame.to_arrow())
                    try:
                        conn.execute(f"CREATE TABLE {name} AS {_select(name, frame)}")
                    finally:
                        conn.unregister("src")
                    counts[name] = frame.height
                for statement in (*_INDEXES, *_VIEWS):
                    conn.execute(statement)
                conn.execute(
                    "CREATE TABLE serving_metadata AS SELECT now() AS published_at, "
                    "unnest(?::VARCHAR[]) AS table_name, unnest(?::BIGINT[]) AS row_count",
                    [list(counts), list(counts.values())],
                )
                conn.execute(f"CHECKPOINT {CATALOG}")
            finally:
                conn.execute(f'USE "{previous}"')
                conn.execute(f"DETACH {CATALOG}")
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return counts


def open_store_readonly(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the store file at ``path`` as it is now, attached as
    ``store`` (query ``store.<table>``), that cannot touch any other file.

    Raises ``FileNotFoundError`` when nothing has been published yet.
    """
    if not path.is_file():
        raise FileNotFoundError(path)
    conn = duckdb.connect()
    try:
        conn.execute("SET GLOBAL TimeZone = 'UTC'")
        conn.execute(f"ATTACH {_literal(path)} AS {CATALOG} (READ_ONLY)")
        conn.execute("SET enable_external_access = false")
        conn.execute("SET lock_configuration = true")
    except BaseException:
        conn.close()
        raise
    return conn
