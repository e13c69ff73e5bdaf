"""Append-only NDJSON segments with group commit, sealing and crash recovery.

A :class:`SegmentWriter` owns one directory (``landing/aurora/events/`` or its quarantine
twin). Requests hand it complete NDJSON lines with :meth:`SegmentWriter.append`, which
returns only once those bytes are on disk (``fdatasync``). A single flusher task takes
everything appended since its last commit, writes it with one ``write`` and one
``fdatasync`` in a worker thread, then wakes all those requests at once: while one commit
is in flight the next group gathers, so concurrent requests share an fsync (group commit)
and a lone request waits for one fsync only.

Naming (CONTRACT.md section 3): the open segment is ``seg-<utc>-<pid>-<n>.ndjson.open``;
sealing fsyncs it, renames it to ``seg-<utc>-<pid>-<n>.ndjson`` and fsyncs the directory.
A file ending ``.ndjson`` is therefore complete and never changes again. Segments are
sealed when they reach ``max_bytes`` (checked after each commit, so a segment may exceed it
by one group), when they are ``max_seconds`` old, and on :meth:`SegmentWriter.close`.

Recovery (:func:`recover_segments`): an ``.ndjson.open`` file left by a crash keeps its
longest prefix of complete JSON lines. Everything acknowledged lies in that prefix, because
a commit is acknowledged only after all earlier bytes were fsynced. The rest (a torn last
line, or garbage past the last fsync after a power cut) was never acknowledged: it is cut
off, logged and returned so the caller can quarantine it. A directory ``flock`` keeps a
second collector from "recovering" the live segment of a running one.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, TypeVar

log = logging.getLogger(__name__)

OPEN_SUFFIX = ".ndjson.open"
SEALED_SUFFIX = ".ndjson"

T = TypeVar("T")
_fdatasync = getattr(os, "fdatasync", os.fsync)


class WriterUnavailable(RuntimeError):
    """The writer cannot take data now (closing, or broken by an I/O error)."""


@dataclass(frozen=True)
class RecoveredSegment:
    """What start-up recovery did with one unsealed segment."""

    open_path: Path
    sealed_path: Path | None  # None: nothing complete in it, so the file was removed
    kept_lines: int
    dropped: bytes  # the torn tail that was cut off (never acknowledged)


def segment_name(counter: int) -> str:
    """``seg-20261003T123456123456Z-<pid>-000001.ndjson.open``: sorts by creation time (UTC)
    and is unique across processes and restarts (pid) and within one process (counter)."""
    now = datetime.now(timezone.utc)
    return f"seg-{now:%Y%m%dT%H%M%S%fZ}-{os.getpid()}-{counter:06d}{OPEN_SUFFIX}"


def sealed_path(open_path: Path) -> Path:
    """The final name of an open segment: the same name without ``.open``."""
    return open_path.with_name(open_path.name.removesuffix(OPEN_SUFFIX) + SEALED_SUFFIX)


def fsync_dir(path: Path) -> None:
    """Make renames and new entries in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """Create ``path`` and missing parents, fsyncing each parent that got a new entry."""
    if path.is_dir():
        return
    ensure_dir(path.parent)
    path.mkdir(exist_ok=True)
    fsync_dir(path.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _valid_prefix(data: bytes) -> tuple[int, int]:
    """Length in bytes and in lines of the longest prefix of complete JSON-object lines."""
    end = lines = 0
    while (newline := data.find(b"\n", end)) != -1:
        try:
            if not isinstance(json.loads(data[end:newline]), dict):
                break
        except ValueError:
            break
        end, lines = newline + 1, lines + 1
    return end, lines


def _seal(open_path: Path) -> Path:
    """Rename a fully fsynced open segment to its sealed name, durably; never overwrite."""
    final = sealed_path(open_path)
    if final.exists():
        raise FileExistsError(f"refusing to overwrite sealed segment {final}")
    os.rename(open_path, final)
    fsync_dir(open_path.parent)
    return final


def recover_segments(directory: Path) -> list[RecoveredSegment]:
    """Seal every ``.ndjson.open`` segment in ``directory`` after cutting its torn tail.

    Call only while holding the directory lock (see :class:`SegmentWriter`).
    """
    recovered = []
    for open_path in sorted(directory.glob("*" + OPEN_SUFFIX)):
        data = open_path.read_bytes()
        keep, lines = _valid_prefix(data)
        dropped = data[keep:]
        if dropped:
            log.warning(
                "recovery: %s: dropping %d bytes after the last complete line (never acknowledged)",
                open_path.name,
                len(dropped),
            )
            fd = os.open(open_path, os.O_WRONLY)
            try:
                os.ftruncate(fd, keep)
                os.fsync(fd)
            finally:
                os.close(fd)
        else:
            # Complete already, but its data may not have been fsynced before the crash.
            fd = os.open(open_path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if lines:
            final = _seal(open_path)
            log.info("recovery: sealed %s with %d lines", final.name, lines)
        else:
            open_path.unlink()
            fsync_dir(directory)
            final = None
            log.info("recovery: removed %s: no complete line in it", open_path.name)
        recovered.append(RecoveredSegment(open_path, final, lines, dropped))
    return recovered


class SegmentWriter:
    """Durable, append-only NDJSON segments in one directory, with group commit.

    Life cycle: ``await start()`` (lock, recover, start the flusher), any number of
    concurrent ``await append(lines)``, then ``await close()`` (drain, seal, unlock). All file
    I/O runs in one dedicated thread, in the order the flusher issues it.
    """

    def __init__(self, directory: Path, *, max_bytes: int, max_seconds: float) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"segments-{directory.name}")
        self._pending: list[bytes] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._broken: OSError | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._lock_fd: int | None = None
        # State of the open segment; touched only by the flusher (through the I/O thread).
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._opened_at = 0.0  # time.monotonic() when the open segment was created
        self._counter = 0
        # Counters for /healthz and the benchmark.
        self.commits = 0
        self.appends = 0
        self.bytes_written = 0
        self.sealed = 0

    # ---- public API ------------------------------------------------------------------
    async def start(self) -> list[RecoveredSegment]:
        """Lock the directory, recover what a crash left, and start accepting appends."""
        recovered = await self._io(self._lock_and_recover)
        self._flusher = asyncio.create_task(self._run(), name=f"flusher:{self.directory}")
        return recovered

    async def append(self, lines: bytes) -> None:
        """Append complete lines (each ending ``\\n``); return once they are fsynced."""
        if self._broken is not None:
            raise WriterUnavailable(f"segment writer failed: {self._broken}")
        if self._closing or self._flusher is None:
            raise WriterUnavailable("segment writer is not running")
        waiter = asyncio.get_running_loop().create_future()
        self._pending.append(lines)
        self._waiters.append(waiter)
        self.appends += 1
        self._wake.set()
        await waiter

    async def close(self) -> None:
        """Commit what is pending, seal the open segment, release the directory."""
        self._closing = True
        self._wake.set()
        if self._flusher is not None:
            await self._flusher
        await self._io(self._unlock)
        self._executor.shutdown()

    @property
    def ready(self) -> bool:
        return self._flusher is not None and not self._closing and self._broken is None

    @property
    def open_segment(self) -> str | None:
        return self._path.name if self._path else None

    # ---- flusher (event loop side) ---------------------------------------------------
    async def _io(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _run(self) -> None:
        while self._broken is None:
            if not self._pending:
                if self._closing:
                    break
                await self._wait_for_work()
            if self._pending:
                await self._commit_pending()
            if self._path is not None and self._broken is None and self._seal_due():
                await self._seal_current()
        if self._broken is None and self._path is not None:
            await self._seal_current()
        # Only after a fatal error can requests still be waiting here.
        self._fail(self._waiters, WriterUnavailable(f"segment writer failed: {self._broken}"))
        self._pending, self._waiters = [], []

    async def _wait_for_work(self) -> None:
        """Sleep until an append arrives or the open segment is due to be sealed by age."""
        self._wake.clear()
        deadline = None
        if self._path is not None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + max(0.0, self._opened_at + self.max_seconds - time.monotonic())
        try:
            async with asyncio.timeout_at(deadline):
                await self._wake.wait()
        except TimeoutError:
            pass

    def _seal_due(self) -> bool:
        return self._size >= self.max_bytes or time.monotonic() - self._opened_at >= self.max_seconds

    async def _commit_pending(self) -> None:
        chunks, waiters = self._pending, self._waiters
        self._pending, self._waiters = [], []
        try:
            await self._io(self._commit, chunks)
        except OSError as exc:
            log.exception("commit to %s failed; %d requests get an error", self.directory, len(waiters))
            self._fail(waiters, WriterUnavailable(f"write failed: {exc}"))
            return
        for waiter in waiters:
            if not waiter.done():  # done if its request was cancelled (client went away)
                waiter.set_result(None)

    @staticmethod
    def _fail(waiters: list[asyncio.Future[None]], error: Exception) -> None:
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error)

    async def _seal_current(self) -> None:
        try:
            await self._io(self._seal_open)
        except OSError as exc:
            self._broken = exc
            log.exception("sealing %s failed; writer stops", self._path)

    # ---- I/O thread side -------------------------------------------------------------
    def _lock_and_recover(self) -> list[RecoveredSegment]:
        ensure_dir(self.directory)
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(f"{self.directory} is in use by another collector process") from None
        self._lock_fd = fd
        return recover_segments(self.directory)

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _open_segment(self) -> None:
        self._counter += 1
        path = self.directory / segment_name(self._counter)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        try:
            fsync_dir(self.directory)  # the file itself must survive a crash, not only its data
        except OSError:
            os.close(fd)
            path.unlink()
            raise
        self._fd, self._path, self._size, self._opened_at = fd, path, 0, time.monotonic()
        log.debug("opened segment %s", path.name)

    def _commit(self, chunks: list[bytes]) -> None:
        if self._broken is not None:
            raise self._broken
        if self._fd is None:
            self._open_segment()
        assert self._fd is not None
        data = b"".join(chunks)
        try:
            _write_all(self._fd, data)
            _fdatasync(self._fd)
        except OSError:
            self._roll_back()
            raise
        self._size += len(data)
        self.commits += 1
        self.bytes_written += len(data)

    def _roll_back(self) -> None:
        """Cut a failed commit off the segment so no partial line sits before later ones;
        if even that fails, stop writing (restart recovery keeps the acknowledged prefix)."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self._size)
            os.fsync(self._fd)
        except OSError as exc:
            self._broken = exc
            log.exception("cannot roll back %s; writer stops", self._path)

    def _seal_open(self) -> None:
        assert self._fd is not None and self._path is not None
        os.fsync(self._fd)
        os.close(self._fd)
        path, self._fd, self._path = self._path, None, None
        if self._size == 0:  # every commit to it failed and was rolled back
            path.unlink()
            fsync_dir(self.directory)
            return
        final = _seal(path)
        self.sealed += 1
        log.info("sealed %s (%d bytes)", final.name, self._size)
