"""Segments: group commit, sealing by size, age and shutdown, recovery after a crash."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import time
from pathlib import Path

import pytest

from podcast_assets.collector import segments
from podcast_assets.collector.segments import SegmentWriter, WriterUnavailable, recover_segments
from podcast_assets_tests.collector.conftest import (
    event,
    landing_dir,
    make_settings,
    quarantine_dir,
    read_lines,
    running_collector,
)


def line(n: int) -> bytes:
    return json.dumps(event(n)).encode() + b"\n"


def test_concurrent_appends_share_fsyncs(tmp_path: Path) -> None:
    async def scenario() -> SegmentWriter:
        writer = SegmentWriter(tmp_path, max_bytes=1 << 30, max_seconds=3600)
        await writer.start()
        await asyncio.gather(*(writer.append(line(n)) for n in range(200)))
        await writer.close()
        return writer

    writer = asyncio.run(scenario())
    assert writer.appends == 200
    assert writer.commits <= 2  # all 200 were queued before the first commit began (1 here; 2 if the loop interleaved)
    assert sorted(r["event_id"] for r in read_lines(tmp_path)) == sorted(f"ev-{n}" for n in range(200))


def test_failed_commit_is_rolled_back_and_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_sync = segments._fdatasync
    calls = []

    def flaky_sync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_sync(fd)

    monkeypatch.setattr(segments, "_fdatasync", flaky_sync)

    async def scenario() -> None:
        writer = SegmentWriter(tmp_path, max_bytes=1 << 30, max_seconds=3600)
        await writer.start()
        await writer.append(line(1))
        with pytest.raises(WriterUnavailable):
            await writer.append(line(2))
        await writer.append(line(3))
        await writer.close()

    asyncio.run(scenario())
    assert [r["event_id"] for r in read_lines(tmp_path)] == ["ev-1", "ev-3"]


def test_a_second_writer_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        first = SegmentWriter(tmp_path, max_bytes=1 << 30, max_seconds=3600)
        await first.start()
        with pytest.raises(RuntimeError, match="another collector"):
            await SegmentWriter(tmp_path, max_bytes=1 << 30, max_seconds=3600).start()
        await first.close()

    asyncio.run(scenario())


def test_segments_are_sealed_by_size(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, segment_max_bytes=1_000)
    with running_collector(settings) as collector:
        for b in range(6):
            assert collector.post([event(f"{b}-{i}") for i in range(5)]).json()["accepted"] == 5
        sealed = sorted(landing_dir(settings).glob("*.ndjson"))
        assert len(sealed) >= 2
        for path in sealed:
            assert path.read_bytes().endswith(b"\n")
            assert path.stat().st_size < 1_000 + 5 * len(line(0))  # at most one commit past the limit
    ids = [r["event_id"] for r in read_lines(landing_dir(settings), "*.ndjson")]
    assert ids == [f"ev-{b}-{i}" for b in range(6) for i in range(5)]


def test_segments_are_sealed_by_age(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, segment_max_seconds=0.2)
    with running_collector(settings) as collector:
        collector.post([event(1)])
        deadline = time.monotonic() + 10
        while not list(landing_dir(settings).glob("*.ndjson")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r["event_id"] for r in read_lines(landing_dir(settings), "*.ndjson")] == ["ev-1"]
        assert not list(landing_dir(settings).glob("*.open"))
        collector.post([event(2)])  # a new segment is opened for later events
    assert len(list(landing_dir(settings).glob("*.ndjson"))) == 2


def test_clean_shutdown_seals_the_open_segment(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with running_collector(settings) as collector:
        collector.post([event(1), event(2, listened_at="bad")])
        assert [p.name.endswith(".ndjson.open") for p in landing_dir(settings).iterdir()] == [True]
    for directory in (landing_dir(settings), quarantine_dir(settings)):
        names = [p.name for p in directory.iterdir()]
        assert len(names) == 1 and names[0].startswith("seg-") and names[0].endswith(".ndjson")


def test_torn_segment_is_recovered_and_sealed_on_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(tmp_path)
    directory = landing_dir(settings)
    directory.mkdir(parents=True)
    torn = directory / "seg-20260102T030405000000Z-4242-000001.ndjson.open"
    torn.write_bytes(line(1) + line(2) + b'{"event_id": "ev-3", "show_')
    caplog.set_level(logging.INFO, logger="podcast_assets.collector")

    with running_collector(settings) as collector:
        assert not torn.exists()
        sealed = directory / "seg-20260102T030405000000Z-4242-000001.ndjson"
        assert sealed.read_bytes() == line(1) + line(2)
        assert collector.client.get("/healthz").json()["status"] == "ready"
        collector.post([event(4)])

    assert "dropping 27 bytes" in caplog.text
    assert [r["event_id"] for r in read_lines(directory, "*.ndjson")] == ["ev-1", "ev-2", "ev-4"]
    [record] = read_lines(quarantine_dir(settings))
    assert record["reason"] == "torn_segment_tail"
    assert record["segment"] == torn.name
    assert record["raw"] == '{"event_id": "ev-3", "show_'


def test_recovery_keeps_the_valid_prefix_and_removes_empty_segments(tmp_path: Path) -> None:
    garbage = tmp_path / "seg-a.ndjson.open"
    garbage.write_bytes(line(1) + b"\x00\x00\x00\x00\n" + line(2))  # past the last fsync after a power cut
    only_torn = tmp_path / "seg-b.ndjson.open"
    only_torn.write_bytes(b'{"event_id"')
    complete = tmp_path / "seg-c.ndjson.open"
    complete.write_bytes(line(3))

    recovered = recover_segments(tmp_path)

    assert [(r.open_path.name, r.kept_lines, r.dropped) for r in recovered] == [
        ("seg-a.ndjson.open", 1, b"\x00\x00\x00\x00\n" + line(2)),
        ("seg-b.ndjson.open", 0, b'{"event_id"'),
        ("seg-c.ndjson.open", 1, b""),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seg-a.ndjson", "seg-c.ndjson"]
    assert (tmp_path / "seg-a.ndjson").read_bytes() == line(1)
