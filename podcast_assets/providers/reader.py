"""The one reader for every provider: a delivered file in, typed bronze rows out.

``read_drop`` turns a file into a DataFrame with the spec's canonical columns (see
``specs.CANONICAL_FIELDS``), typed, plus ``source_row`` (1-based: the data row of a CSV,
the line of an NDJSON file, the index in a JSON row list). Anything it cannot read
raises ``DropError`` naming the file, the row and the rule, so the caller can quarantine
(``with_line`` adds the line of the file the row starts on).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import polars as pl

from podcast_assets.providers.specs import ProviderSpec

BOM = b"\xef\xbb\xbf"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"  # RFC 3339 with an offset ("Z" or +hh:mm)
UTC = pl.Datetime("us", "UTC")


@dataclass
class DropError(ValueError):
    """A delivered file broke a rule; ``row`` is 1-based (see module docstring), ``line``
    the line of the file it starts on, once known (``with_line``)."""

    file: str
    rule: str
    row: int | None = None
    sample: Any = None
    line: int | None = None

    def __str__(self) -> str:
        where = (f"{self.file}, line {self.line}" if self.line is not None
                 else f"{self.file}, row {self.row}" if self.row is not None else self.file)
        sample = f" (value: {self.sample!r})" if self.sample is not None else ""
        return f"{where}: {self.rule}{sample}"

    def reason(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "row": self.row, "rule": self.rule, "sample": self.sample}


def with_line(err: DropError, data: bytes, file_format: str, separator: str = ",") -> DropError:
    """``err`` with the line of ``data`` (the file as delivered) its row starts on: an
    NDJSON row is a line; a CSV's data row r is the r-th record after the header, which
    quoted newlines can push further down. Rows of a JSON document have no line of their
    own. Worked out only for a rejected file: the reader does not track lines."""
    if err.row is not None and err.line is None:
        if file_format == "ndjson":
            err.line = err.row
        elif file_format == "csv":
            text = _decoded(data, err.file).decode(errors="replace")
            records = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
            ended = 0  # the line the record before ended on
            try:
                for number, _ in enumerate(records):  # (record 0 is the header)
                    if number == err.row:
                        err.line = ended + 1
                        break
                    ended = records.line_num
            except csv.Error:  # a file Python's reader cannot follow: the row alone
                pass
    return err


def read_drop(spec: ProviderSpec, path: Path, name: str | None = None, data: bytes | None = None) -> pl.DataFrame:
    """Read one delivered file into typed rows (all of ``spec.fields`` plus ``listens``,
    ``period_start`` and ``source_row``). ``name`` is the file name errors report (the
    landed name when reading an archived copy); ``data`` the file's content, when the
    caller has read it already. Raises ``DropError``."""
    name = name or path.name
    raw = _read_raw(spec, path.read_bytes() if data is None else data, name)
    return _typed(spec, raw, name)


# ---- raw: every field as text ---------------------------------------------------------
def _decoded(data: bytes, name: str) -> bytes:
    if name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DropError(name, f"not a readable gzip file: {exc}") from None
    return data.removeprefix(BOM)


def _read_raw(spec: ProviderSpec, data: bytes, name: str) -> pl.DataFrame:
    data = _decoded(data, name)
    reader = {"csv": _raw_csv, "ndjson": _raw_ndjson, "json": _raw_json}[spec.format]
    return reader(spec, data, name)


def _require(columns: list[str], spec: ProviderSpec, file: str, fields: dict[str, str]) -> None:
    for source in fields.values():
        if source.split(".")[0] not in columns:
            raise DropError(file, f"missing column {source!r}")


_ROW = "\x00row"  # the reader's row index, under a name no header carries


def _raw_csv(spec: ProviderSpec, data: bytes, file: str) -> pl.DataFrame:
    try:
        # (the reader numbers the rows in the chunks of the other columns: a column made in
        # one chunk would have every column copied to line up with it later)
        df = pl.read_csv(data, separator=spec.csv_separator, infer_schema=False, row_index_name=_ROW, row_index_offset=1)
    except pl.exceptions.PolarsError as exc:
        raise DropError(file, f"not valid CSV: {str(exc).splitlines()[0]}") from None
    _require(df.columns, spec, file, dict(spec.fields))
    first, *rest = df.columns[1:]  # (the row index comes first)
    nothing_after_first = pl.all_horizontal(pl.col(rest).is_null())
    if df.select(nothing_after_first.any()).item():  # (the filter copies every column: only when needed)
        # a line with nothing in it (blank, or only separators) is no row
        df = df.filter(~(nothing_after_first & pl.col(first).fill_null("").str.strip_chars().eq("")))
    return df.select(*(pl.col(src).alias(canon) for canon, src in spec.fields.items()),
                     pl.col(_ROW).cast(pl.Int64).alias("source_row"))


def _field_expr(source: str) -> pl.Expr:
    head, *rest = source.split(".")
    expr = pl.col(head)
    for name in rest:
        expr = expr.struct.field(name)
    return expr


def _raw_ndjson(spec: ProviderSpec, data: bytes, file: str) -> pl.DataFrame:
    lines = data.split(b"\n")
    line_numbers = [i for i, line in enumerate(lines, start=1) if line.strip()]
    # Only the spec's fields are read, each as text (numbers as polars writes them: 1e2 is
    # "100"). Every other field, at any level, is skipped unread, so it cannot fail the
    # file; and a field typed from its values would widen to what its oddest line holds
    # (12 and 3.5 both read as floats), so the typing step below could not name the line.
    try:
        df = pl.read_ndjson(io.BytesIO(data), schema=_text_schema(spec.fields.values()))
    except pl.exceptions.PolarsError as exc:
        _raise_bad_json_line(lines, file, exc)
    df = df.select(
        *(_field_expr(src).alias(canon) for canon, src in spec.fields.items()),
        pl.Series("source_row", line_numbers, dtype=pl.Int64),
    )
    for canon, src in spec.fields.items():  # (a field no line has reads as nulls)
        if df.height and df.get_column(canon).null_count() == df.height:
            raise DropError(file, f"missing column {src!r}")
    return df


def _text_schema(sources: Iterable[str]) -> dict[str, pl.DataType]:
    """A schema holding just ``sources`` (``a.b`` nested), every one as text."""
    tree: dict[str, Any] = {}
    for source in sources:
        *parents, leaf = source.split(".")
        node = tree
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = None

    def dtype(node: dict[str, Any] | None) -> pl.DataType:
        return pl.String() if node is None else pl.Struct({name: dtype(child) for name, child in node.items()})

    return {name: dtype(child) for name, child in tree.items()}


def _raise_bad_json_line(lines: list[bytes], file: str, exc: Exception) -> None:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        sample = line[:120].decode(errors="replace")
        try:
            value = json.loads(line)
        except UnicodeDecodeError:
            raise DropError(file, "not valid UTF-8", number, sample) from None
        except ValueError as err:
            raise DropError(file, f"not valid JSON: {err.msg}", number, sample) from None
        if not isinstance(value, dict):
            raise DropError(file, "line is not a JSON object", number, sample)
    raise DropError(file, f"not valid NDJSON: {str(exc).splitlines()[0]}")


def _raw_json(spec: ProviderSpec, data: bytes, file: str) -> pl.DataFrame:
    try:
        doc = json.loads(data)
    except ValueError as err:
        line = getattr(err, "lineno", None)
        raise DropError(file, f"not valid JSON: {getattr(err, 'msg', err)} (line {line})") from None
    rows = doc.get(spec.json_rows) if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise DropError(file, f"document has no {spec.json_rows!r} list")
    missing = [src for src in spec.json_document_fields.values() if src not in doc]
    if missing:
        raise DropError(file, f"missing column {missing[0]!r}")
    own, src = spec.match(file), spec.json_document_fields.get("period")
    if own and src and str(doc[src]) != own["period"]:  # checked here too: a file may have no rows
        raise DropError(file, f"{src} must be the file's own {spec.period_grain} {own['period']}", None, doc[src])
    records: dict[str, list[str | None]] = {canon: [] for canon in spec.fields}
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise DropError(file, "row is not a JSON object", number, str(row)[:120])
        for canon, src in spec.fields.items():
            value = row.get(src)
            if isinstance(value, (bool, list, dict)):
                raise DropError(file, f"{src} must be a JSON string or number", number, str(value)[:120])
            records[canon].append(None if value is None else str(value))
    if rows:
        _require(list(set().union(*(r.keys() for r in rows))), spec, file, dict(spec.fields))
    df = pl.DataFrame(records, schema={canon: pl.String for canon in spec.fields})
    return df.with_columns(
        *(pl.lit(str(doc[src]), pl.String).alias(canon) for canon, src in spec.json_document_fields.items()),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("source_row"),
    )


# ---- typed: parse numbers, dates and timestamps, naming the first bad value ----------------
def _typed(spec: ProviderSpec, raw: pl.DataFrame, file: str) -> pl.DataFrame:
    """Parse every typed field in one pass; a value that is present but did not parse is an
    error, reported for the first such row of the first field in the order checked below."""
    f = spec.fields
    text = pl.col
    exprs: list[pl.Expr] = []
    checks: list[tuple[str, str, str]] = []  # (text column, parsed column, rule), in report order
    if "listens" in raw.columns:
        exprs.append(_whole_numbers(raw.get_column("listens")))
        checks.append(("listens", "listens", f"{f['listens']} must be a whole number"))
    else:  # instant providers: one row is one listen
        exprs.append(pl.lit(1, pl.Int64).alias("listens"))
    for column in ("listened_at", "episode_published"):
        if column in raw.columns:
            exprs.append(text(column).str.to_datetime(TIMESTAMP_FORMAT, time_zone="UTC", strict=False).cast(UTC))
            checks.append((column, column, f"{f[column]} must be an RFC 3339 timestamp with offset"))
    if spec.period_grain == "day" and "period" in raw.columns:
        exprs.append(_strict_date(raw.get_column("period"), r"^\d{4}-\d{2}-\d{2}$").alias("period_start"))
        checks.append(("period", "period_start", f"{_src(spec, 'period')} must be a date YYYY-MM-DD"))
    elif "period" in raw.columns:
        exprs.append(_strict_date(raw.get_column("period"), r"^\d{4}-\d{2}$", "-01").alias("period_start"))
        checks.append(("period", "period_start", f"{_src(spec, 'period')} must be a month YYYY-MM"))
    else:  # instant: a listen counts for the UTC day it happened
        exprs.append(text("listened_at").str.to_datetime(TIMESTAMP_FORMAT, time_zone="UTC", strict=False).dt.date().alias("period_start"))
    # ids compare without the blanks around them (the directories' ids are stripped too)
    exprs += [text(c).str.strip_chars() for c in ("show_id", "feed_url", "podcast_guid") if c in raw.columns]
    typed = raw.with_columns(exprs)
    for column, parsed, rule in checks:
        bad = raw.get_column(column).is_not_null() & typed.get_column(parsed).is_null()
        if bad.any():
            first = bad.arg_true()[0]
            raise DropError(file, rule, raw.item(first, "source_row"), raw.item(first, column))
    return typed.drop([c for c in ("period",) if c in typed.columns])


def _whole_numbers(text: pl.Series) -> pl.Expr:
    """Whole numbers from ``text``, else null; blanks around a number are allowed, and
    stripped only when a number has them (stripping copies the column)."""
    if text.cast(pl.Int64, strict=False).null_count() > text.null_count():
        return pl.col(text.name).str.strip_chars().cast(pl.Int64, strict=False)
    return pl.col(text.name).cast(pl.Int64, strict=False)


def _strict_date(text: pl.Series, pattern: str, suffix: str = "") -> pl.Expr:
    """A date from ``text`` of exactly ``pattern`` (``2025-3`` is not a month), else null.
    Parsed once per distinct text: a file of a million rows carries a handful of dates."""
    distinct = text.unique()
    if distinct.is_empty():  # (replace_strict would give an empty column the type String)
        return pl.lit(None, pl.Date)
    parsed = pl.select(
        pl.when(distinct.str.contains(pattern)).then((distinct + suffix).str.to_date("%Y-%m-%d", strict=False))
    ).to_series()
    # (an expression, so the dates keep the chunks of the text)
    return pl.col(text.name).replace_strict(distinct, parsed, return_dtype=pl.Date)


def _src(spec: ProviderSpec, canon: str) -> str:
    return spec.fields.get(canon) or spec.json_document_fields[canon]
