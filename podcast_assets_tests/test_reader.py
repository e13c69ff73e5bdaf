"""The one reader for every provider: delivered bytes in, typed rows out, or a DropError
naming the file, the row and the rule. No Dagster here: just ``read_drop`` on real files."""

from __future__ import annotations

import gzip
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl
import pytest

from podcast_assets.providers.reader import DropError, read_drop, with_line
from podcast_assets.providers.specs import PROVIDERS, provider
from podcast_assets_tests.conftest import GUID_A, PODNEWS_GUID

BOREAL_HEADER = "report_date,show_id,episode_guid,episode_title,plays\r\n"


def read(tmp_path: Path, provider_name: str, name: str, data: str | bytes) -> pl.DataFrame:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return read_drop(provider(provider_name), path)


def test_boreal_csv_rfc4180_quoting(tmp_path: Path) -> None:
    """Titles with commas, doubled quotes and a newline inside quotes are one field; the
    quoted newline does not start a row, so source_row counts data rows (1, 2)."""
    data = BOREAL_HEADER + (
        '2025-03-03,s1,ep-1,"Hello, ""world""\nPart 2",5\r\n'
        "2025-03-03,s2,ep-9,Plain,0\r\n"
    )
    df = read(tmp_path, "boreal", "boreal_plays_2025-03-03.csv", data)
    assert df.select("show_id", "episode_guid", "episode_title", "listens", "period_start", "source_row").rows() == [
        ("s1", "ep-1", 'Hello, "world"\nPart 2', 5, date(2025, 3, 3), 1),
        ("s2", "ep-9", "Plain", 0, date(2025, 3, 3), 2),
    ]
    assert df.schema["listens"] == pl.Int64 and df.schema["period_start"] == pl.Date


def test_boreal_gzip_and_bom_read_like_plain_csv(tmp_path: Path) -> None:
    data = BOREAL_HEADER + "2025-03-03,s1,ep-1,T,5\r\n2025-03-03,s1,ep-2,U,7\r\n"
    plain = read(tmp_path, "boreal", "boreal_plays_2025-03-03.csv", data)
    gz = read(tmp_path, "boreal", "boreal_plays_2025-03-03.csv.gz", gzip.compress(data.encode()))
    bom = read(tmp_path, "boreal", "bom.csv", b"\xef\xbb\xbf" + data.encode())
    assert gz.equals(plain) and bom.equals(plain)
    assert plain.get_column("listens").to_list() == [5, 7]


def test_a_file_with_only_its_header_reads_as_no_rows_of_the_right_types(tmp_path: Path) -> None:
    df = read(tmp_path, "boreal", "boreal_plays_2025-03-03.csv", BOREAL_HEADER)
    assert df.height == 0
    assert df.schema["period_start"] == pl.Date and df.schema["listens"] == pl.Int64


def test_cirrus_json_broadcasts_the_document_date(tmp_path: Path) -> None:
    data = '{"date": "2025-03-05", "rows": [{"feed_url": "https://a.example/f", "downloads": 3},' \
           ' {"feed_url": "HTTP://A.example/f/", "downloads": 4, "extra": true}]}'
    df = read(tmp_path, "cirrus", "cirrus-2025-03-05.json", data)
    assert df.select("feed_url", "listens", "period_start", "source_row").rows() == [
        ("https://a.example/f", 3, date(2025, 3, 5), 1),
        ("HTTP://A.example/f/", 4, date(2025, 3, 5), 2),
    ]


def test_dune_bom_semicolons_month_as_first_day(tmp_path: Path) -> None:
    data = "\ufeffMonth;Podcast GUID;Listens\r\n2025-03;" + PODNEWS_GUID.upper() + ";120\r\n2025-03;" + GUID_A + ";0\r\n"
    df = read(tmp_path, "dune", "dune_2025-03.csv", data.encode("utf-8"))
    assert df.columns[0] != "\ufeffMonth"
    assert df.select("podcast_guid", "listens", "period_start").rows() == [
        (PODNEWS_GUID.upper(), 120, date(2025, 3, 1)),  # case is silver's business
        (GUID_A, 0, date(2025, 3, 1)),
    ]


def test_ember_nested_fields_extra_fields_ignored(tmp_path: Path) -> None:
    lines = [
        '{"month": "2025-03", "podcast": {"feed_url": "https://podnews.net/rss", "title": "x", "more": {"a": 1}},'
        ' "episode": {"guid": "e1", "published": "2025-02-28T23:30:00-02:00", "tags": [1, 2]}, "listens": 12, "v": 2}',
        "",  # a blank line is not a row, but line numbers still count it
        '{"month": "2025-03", "podcast": {"feed_url": "https://podnews.net/rss"},'
        ' "episode": {"guid": "e2", "published": "2025-03-01T00:00:00Z"}, "listens": 3}',
    ]
    df = read(tmp_path, "ember", "ember_2025-03.jsonl", "\n".join(lines) + "\n")
    assert set(df.columns) == {"feed_url", "episode_guid", "episode_published", "listens", "period_start", "source_row"}
    assert df.select("episode_guid", "episode_published", "listens", "period_start", "source_row").rows() == [
        # 23:30 at -02:00 is 01:30 UTC the next day
        ("e1", datetime(2025, 3, 1, 1, 30, tzinfo=timezone.utc), 12, date(2025, 3, 1), 1),
        ("e2", datetime(2025, 3, 1, 0, 0, tzinfo=timezone.utc), 3, date(2025, 3, 1), 3),
    ]


def test_ember_extra_fields_may_change_type_from_line_to_line(tmp_path: Path) -> None:
    """Extra fields are never read: one that is an object on one line and a number or a
    list on the next (at the top level or nested) does not fail the file."""
    lines = [
        GOOD_EMBER.replace('"listens": 1', '"listens": 1, "extra": {"a": 1}').replace('"guid": "e"', '"guid": "e", "x": {"b": 2}'),
        GOOD_EMBER.replace('"listens": 1', '"listens": 2, "extra": 5').replace('"guid": "e"', '"guid": "e", "x": [1, 2]'),
    ]
    df = read(tmp_path, "ember", "ember_2025-03.jsonl", "\n".join(lines) + "\n")
    assert df.select("episode_guid", "listens", "source_row").rows() == [("e", 1, 1), ("e", 2, 2)]


def test_an_empty_ndjson_file_reads_as_no_rows(tmp_path: Path) -> None:
    """A month with no listens (as a CSV with only its header reads): a restatement to nothing."""
    assert read(tmp_path, "ember", "ember_2025-03.jsonl", "").height == 0
    assert read(tmp_path, "ember", "ember_2025-03.jsonl", "\n\n").height == 0


def test_aurora_one_row_per_event_on_its_utc_day(tmp_path: Path) -> None:
    lines = [
        '{"event_id": "a", "show_id": "s1", "episode_guid": "g", "listened_at": "2025-03-01T23:59:59Z"}',
        # 00:30 at +02:00 is 22:30 UTC the day before
        '{"event_id": "b", "show_id": "s1", "episode_guid": "g", "listened_at": "2025-03-02T00:30:00+02:00"}',
        '{"event_id": "c", "show_id": "s1", "episode_guid": "g", "listened_at": "2025-03-02T00:00:00.250Z"}',
    ]
    df = read(tmp_path, "aurora", "seg.ndjson", "\n".join(lines) + "\n")
    assert df.select("event_id", "listens", "period_start", "source_row").rows() == [
        ("a", 1, date(2025, 3, 1), 1),
        ("b", 1, date(2025, 3, 1), 2),
        ("c", 1, date(2025, 3, 2), 3),
    ]


GOOD_EMBER = '{"month": "2025-03", "podcast": {"feed_url": "u"}, "episode": {"guid": "e", "published": "2025-03-01T00:00:00Z"}, "listens": 1}'


@pytest.mark.parametrize(
    ("provider_name", "name", "data", "row", "rule"),
    [
        pytest.param("boreal", "b.csv", BOREAL_HEADER + "2025-03-03,s1,e,t,1\r\n2025-03-03,s1,e2\r\n", None, None,
                     id="truncated-csv-line-reads-as-null"),  # the schema rejects it (see test_ingest)
        pytest.param("boreal", "b.csv", BOREAL_HEADER + '2025-03-03,s1,e,"unterminated\r\n', None, "not valid CSV",
                     id="unterminated-quote"),
        pytest.param("boreal", "b.csv", "report_date,show_id,episode_guid,episode_title\r\n2025-03-03,s1,e,t\r\n",
                     None, "missing column 'plays'", id="missing-column"),
        pytest.param("boreal", "b.csv", BOREAL_HEADER + "2025-03-03,s1,e,t,1\r\n2025-03-03,s1,e,t,2.5\r\n",
                     2, "plays must be a whole number", id="fractional-count"),
        pytest.param("boreal", "b.csv", BOREAL_HEADER + "2025-03-03,s1,e,t,1\r\n2025-02-30,s1,e,t,2\r\n",
                     2, "report_date must be a date", id="impossible-date"),
        pytest.param("boreal", "b.csv.gz", gzip.compress((BOREAL_HEADER + "2025-03-03,s1,e,t,1\r\n" * 50).encode())[:40],
                     None, "gzip", id="truncated-gzip"),
        pytest.param("cirrus", "c.json", '{"date": "2025-03-05", "rows": [{"feed_url": "u", "downloads": 1}, {"feed_',
                     None, "not valid JSON", id="truncated-json"),
        pytest.param("cirrus", "c.json", '{"rows": [{"feed_url": "u", "downloads": 1}]}', None, "missing column 'date'",
                     id="missing-document-date"),
        pytest.param("cirrus", "c.json", '{"date": "2025-03-05", "rows": [{"feed_url": "u"}]}', None,
                     "missing column 'downloads'", id="missing-row-field"),
        pytest.param("cirrus", "c.json", '{"date": "2025-03-05", "rows": [{"feed_url": "u", "downloads": 1}, 7]}', 2,
                     "not a JSON object", id="row-not-object"),
        pytest.param("dune", "d.csv", "\ufeffMonth;Podcast GUID\r\n2025-03;x\r\n".encode(), None,
                     "missing column 'Listens'", id="dune-missing-column"),
        pytest.param("dune", "d.csv", "\ufeffMonth;Podcast GUID;Listens\r\n2025-13;x;1\r\n".encode(), 1,
                     "Month must be a month YYYY-MM", id="dune-bad-month"),
        pytest.param("ember", "e.jsonl", GOOD_EMBER + "\n" + GOOD_EMBER[:70] + "\n", 2, "not valid JSON",
                     id="truncated-json-line"),
        pytest.param("ember", "e.jsonl", GOOD_EMBER + "\n[1, 2]\n", 2, "not a JSON object", id="line-not-object"),
        pytest.param("ember", "e.jsonl", GOOD_EMBER.replace('"2025-03-01T00:00:00Z"', '"yesterday"') + "\n", 1,
                     "episode.published must be an RFC 3339 timestamp", id="bad-timestamp"),
        pytest.param("ember", "e.jsonl", GOOD_EMBER.replace(', "listens": 1', "") + "\n", None,
                     "missing column 'listens'", id="ember-missing-column"),
        pytest.param("ember", "e.jsonl", (GOOD_EMBER + "\n").replace(', "published": "2025-03-01T00:00:00Z"', "") * 2,
                     None, "missing column 'episode.published'", id="ember-missing-nested-field"),
        pytest.param("ember", "e.jsonl", (GOOD_EMBER + "\n").encode() + GOOD_EMBER.replace('"e"', '"\xe9"').encode("latin-1"),
                     2, "not valid UTF-8", id="ember-line-not-utf8"),
        pytest.param("aurora", "s.ndjson", b'{"event_id": "a", "show_id": "\xff", "episode_guid": "g", '
                     b'"listened_at": "2025-03-01T00:00:00Z"}\n', 1, "not valid UTF-8", id="aurora-line-not-utf8"),
        pytest.param("ember", "e.jsonl", "\n".join([GOOD_EMBER, GOOD_EMBER, GOOD_EMBER.replace('"listens": 1', '"listens": 3.5')]),
                     3, "listens must be a whole number", id="fractional-count-names-its-own-line"),
        pytest.param("ember", "e.jsonl", "\n".join([GOOD_EMBER, GOOD_EMBER.replace('"listens": 1', '"listens": true')]),
                     2, "listens must be a whole number", id="boolean-count"),
        pytest.param("cirrus", "c.json", '{"date": "2025-03-05", "rows": [{"feed_url": "u", "downloads": 1}, '
                     '{"feed_url": ["u"], "downloads": 1}]}', 2, "feed_url must be a JSON string or number",
                     id="url-not-a-string"),
        pytest.param("cirrus", "cirrus-2025-03-05.json", '{"date": "2025-03-06", "rows": []}', None,
                     "date must be the file's own day 2025-03-05", id="no-rows-document-for-another-day"),
    ],
)
def test_bad_files_raise_drop_error_naming_row_and_rule(
    tmp_path: Path, provider_name: str, name: str, data: str | bytes, row: int | None, rule: str | None
) -> None:
    if rule is None:  # the reader keeps the short line; its missing count is null for the schema to reject
        df = read(tmp_path, provider_name, name, data)
        assert df.get_column("listens").to_list() == [1, None]
        return
    with pytest.raises(DropError) as caught:
        read(tmp_path, provider_name, name, data)
    err = caught.value
    assert err.file == name
    assert rule in err.rule
    assert err.row == row
    assert err.reason() == {"file": name, "line": None, "row": row, "rule": err.rule, "sample": err.sample}
    assert str(err).startswith(f"{name}, row {row}:" if row is not None else f"{name}:")


def test_a_rejected_rows_line_in_the_file(tmp_path: Path) -> None:
    """``with_line``: a CSV's data row 4 starts on line 6 when a quoted title runs over
    two lines and a blank line comes before it (the header is line 1); gzip and a BOM
    change nothing. An NDJSON row is its line; a JSON document's rows have none."""
    data = BOREAL_HEADER + '2025-03-03,s1,e,"Part 1\r\nPart 2",1\r\n\r\n2025-03-03,s1,e,t,2\r\n2025-03-03,s1,e,t,-3\r\n'
    err = DropError("b.csv", "plays: greater_than_or_equal_to(0)", 4, -3)
    assert with_line(err, data.encode(), "csv").line == 6
    assert str(err) == "b.csv, line 6: plays: greater_than_or_equal_to(0) (value: -3)"
    assert err.reason()["line"] == 6 and err.reason()["row"] == 4
    packed = gzip.compress(b"\xef\xbb\xbf" + data.replace(",", ";").encode())
    assert with_line(DropError("b.csv.gz", "r", 4), packed, "csv", ";").line == 6
    assert with_line(DropError("e.jsonl", "r", 3), b"", "ndjson").line == 3
    assert with_line(DropError("c.json", "r", 2), b'{"rows": [{}, {}]}', "json").line is None


def test_blank_lines_hold_no_rows_and_ids_lose_their_blanks(tmp_path: Path) -> None:
    """A line with nothing in it (blank, spaces, only commas) is no row, wherever it is;
    a show id compares without the blanks around it, as the directory's ids do (the
    episode guid is kept verbatim)."""
    data = BOREAL_HEADER + "2025-03-03, s1 , e ,t,1\r\n\r\n   \r\n,,,,\r\n2025-03-03,s2,e,t,2\r\n\r\n"
    df = read(tmp_path, "boreal", "b.csv", data)
    assert df.select("show_id", "episode_guid", "listens", "source_row").rows() == [("s1", " e ", 1, 1), ("s2", "e", 2, 5)]


def test_counts_may_carry_blanks_and_extra_columns_are_ignored(tmp_path: Path) -> None:
    """A count with blanks around it is that count (in a file where others have none);
    a column of the file that happens to share a name of ours is not ours."""
    data = "report_date,show_id,episode_guid,episode_title,plays,source_row\r\n" \
           "2025-03-03,s1,e1,t, 7 ,x\r\n2025-03-03,s1,e2,t,8,y\r\n"
    df = read(tmp_path, "boreal", "b.csv", data)
    assert df.select("episode_guid", "listens", "source_row").rows() == [("e1", 7, 1), ("e2", 8, 2)]


def test_reported_name_is_the_landed_name(tmp_path: Path) -> None:
    """Archived copies are read under their landed name, so reasons name what was delivered."""
    path = tmp_path / "0123456789abcdef__boreal_plays_2025-03-03.csv"
    path.write_text(BOREAL_HEADER + "2025-03-03,s1,e,t,x\r\n")
    with pytest.raises(DropError) as caught:
        read_drop(provider("boreal"), path, "boreal_plays_2025-03-03.csv")
    assert caught.value.file == "boreal_plays_2025-03-03.csv" and caught.value.sample == "x"


@pytest.mark.parametrize(
    ("provider_name", "accepted", "rejected"),
    [
        ("aurora", ["seg-000001.ndjson", "replay.ndjson"], ["seg-000002.ndjson.open", "seg.json"]),
        ("boreal", ["boreal_plays_2025-03-03.csv", "boreal_plays_2025-03-03.csv.gz"],
         ["boreal_plays_2025-03-03.csv.bak", "boreal_plays_2025-3-3.csv", "shows.csv"]),
        ("cirrus", ["cirrus-2025-03-05.json"], ["cirrus-2025-03.json", "cirrus_2025-03-05.json"]),
        ("dune", ["dune_2025-03.csv"], ["dune_2025-03-01.csv", "dune_2025-03.csv.gz"]),
        ("ember", ["ember_2025-03.jsonl"], ["ember_2025-03.json", "ember-2025-03.jsonl"]),
    ],
)
def test_file_name_patterns(provider_name: str, accepted: list[str], rejected: list[str]) -> None:
    spec = provider(provider_name)
    assert all(spec.match(name) for name in accepted)
    assert not any(spec.match(name) for name in rejected)


def test_every_provider_has_a_spec() -> None:
    assert [s.name for s in PROVIDERS] == ["aurora", "boreal", "cirrus", "dune", "ember"]
    assert {s.name: (s.cadence, s.grain) for s in PROVIDERS} == {
        "aurora": ("instant", "episode"), "boreal": ("daily", "episode"), "cirrus": ("daily", "podcast"),
        "dune": ("monthly", "podcast"), "ember": ("monthly", "episode"),
    }
