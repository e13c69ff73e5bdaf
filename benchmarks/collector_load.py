"""Load benchmark of the aurora event collector (issue 3, item 5).

Run: ``.venv/bin/python benchmarks/collector_load.py [--quick]``.

Starts the collector (``python -m podcast_assets.collector``) in a subprocess on 127.0.0.1
with a throw-away lakehouse, then drives it from a second process: several HTTP/1.1
keep-alive connections on a raw asyncio client (uvloop when installed), each sending its
next request as soon as the previous answer arrived. Every scenario is bounded by a fixed
number of requests and a time limit. Request bodies (unique event ids) are built before the
clock starts, so the client spends its time on the socket.

Printed per scenario: events/s, requests/s, p50/p99 latency, events per fsync (the group
commit at work), and the floor: the same NDJSON bytes appended and fsynced to a file without
HTTP, once with the server's own commit grouping and once with one fsync per request.
At the end: the server's peak RSS and a check that every acknowledged event is on disk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
PATH = "/v1/providers/aurora/events"


@dataclass(frozen=True)
class Scenario:
    name: str
    batch: int  # events per request
    requests: int  # fixed count...
    time_limit: float  # ...and a time limit, whichever comes first
    connections: int


def event(n: int) -> dict[str, str]:
    return {
        "event_id": f"ev-{n:012d}",
        "show_id": f"show-{n % 997}",
        "episode_guid": f"https://example.com/episodes/{n % 10007}",
        "listened_at": "2026-10-03T12:34:56Z",
    }


def build_requests(batch: int, count: int, port: int, first_id: int) -> list[bytes]:
    """Complete HTTP/1.1 requests; each event id is used once."""
    out = []
    for r in range(count):
        start = first_id + r * batch
        events = [event(n) for n in range(start, start + batch)]
        body = json.dumps(events[0] if batch == 1 else events, separators=(",", ":")).encode()
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append(head + body)
    return out


# ---- load generator (runs in its own process) -----------------------------------------
async def _connection(port: int, queue: list[bytes], deadline: float, latencies: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while queue and time.perf_counter() < deadline:
            request = queue.pop()
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(head.split(b"\r\n", 1)[0].decode() + " " + body.decode()[:200])
    finally:
        writer.close()


def _run_load(scenario: Scenario, first_id: int, port: int, conn: Connection) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    latencies: list[float] = []
    errors: list[str] = []
    queue = list(reversed(build_requests(scenario.batch, scenario.requests, port, first_id)))

    async def main() -> float:
        started = time.perf_counter()
        deadline = started + scenario.time_limit
        await asyncio.gather(
            *(_connection(port, queue, deadline, latencies, errors) for _ in range(scenario.connections))
        )
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    conn.send({"elapsed": elapsed, "latencies": latencies, "errors": errors[:5], "error_count": len(errors)})


def run_scenario(scenario: Scenario, first_id: int, port: int) -> dict:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_run_load, args=(scenario, first_id, port, child))
    process.start()
    result = parent.recv()
    process.join()
    return result


# ---- server ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
        return json.load(response)


def start_server(root: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "PODCAST_LAKEHOUSE_DIR": str(root),
        "PODCAST_COLLECTOR_TOKENS": f"aurora={TOKEN}",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "podcast_assets.collector", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(root / "collector.log", "wb"),
    )
    for _ in range(200):
        try:
            health(port)
            return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"collector exited; see {root / 'collector.log'}")
            time.sleep(0.05)
    raise SystemExit("collector did not become ready")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---- floor: append + fsync without HTTP -------------------------------------------------
def ndjson_chunks(batch: int, count: int, first_id: int) -> list[bytes]:
    """The bytes the collector stores for each request."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    return [
        b"".join(encode(event(n)).encode() + b"\n" for n in range(first_id + r * batch, first_id + (r + 1) * batch))
        for r in range(count)
    ]


def fsync_floor(directory: Path, chunks: list[bytes], per_commit: int) -> float:
    """Seconds to append ``chunks`` to a new file with one fdatasync per ``per_commit`` chunks."""
    path = directory / "floor.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
    started = time.perf_counter()
    for i in range(0, len(chunks), per_commit):
        os.write(fd, b"".join(chunks[i : i + per_commit]))
        os.fdatasync(fd)
    elapsed = time.perf_counter() - started
    os.close(fd)
    path.unlink()
    return elapsed


# ---- report ---------------------------------------------------------------------------
def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the load (smoke run)")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    scenarios = [
        Scenario("batch of 500", batch=500, requests=int(1000 * scale), time_limit=30, connections=8),
        Scenario("batch of 1", batch=1, requests=int(40_000 * scale), time_limit=30, connections=32),
    ]
    with tempfile.TemporaryDirectory(prefix="collector-bench-", ) as tmp:
        root = Path(tmp)
        port = free_port()
        server = start_server(root, port)
        acknowledged = 0
        first_id = 0
        try:
            print(f"collector pid {server.pid} on 127.0.0.1:{port}, lakehouse {root}")
            for scenario in scenarios:
                before = health(port)["providers"]["aurora"]["landing"]
                result = run_scenario(scenario, first_id, port)
                after = health(port)["providers"]["aurora"]["landing"]
                done = len(result["latencies"])
                ok = done - result["error_count"]
                acknowledged += ok * scenario.batch
                commits = after["commits"] - before["commits"]
                latencies = sorted(result["latencies"])
                elapsed = result["elapsed"]
                chunks = ndjson_chunks(scenario.batch, done, first_id)
                per_commit = max(1, round(done / max(commits, 1)))
                grouped = fsync_floor(root, chunks, per_commit)
                single = fsync_floor(root, chunks, 1)
                print(f"\n== {scenario.name}: {done} requests x {scenario.batch} events, "
                      f"{scenario.connections} connections, {elapsed:.2f} s")
                print(f"  events/s        {ok * scenario.batch / elapsed:12,.0f}")
                print(f"  requests/s      {done / elapsed:12,.0f}")
                print(f"  latency p50     {percentile(latencies, 0.50) * 1000:9.2f} ms")
                print(f"  latency p99     {percentile(latencies, 0.99) * 1000:9.2f} ms")
                print(f"  fsyncs          {commits:12,}  ({done / max(commits, 1):.1f} requests per fsync)")
                print(f"  errors          {result['error_count']:12,}  {result['errors'][:1]}")
                print(f"  floor, same bytes and grouping, no HTTP: {done * scenario.batch / grouped:12,.0f} events/s")
                print(f"  floor, one fsync per request, no HTTP:   {done * scenario.batch / single:12,.0f} events/s"
                      f"  ({done / single:,.0f} requests/s)")
                first_id += scenario.requests * scenario.batch
            print(f"\nserver peak RSS  {peak_rss_mib(server.pid):.1f} MiB")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        events_dir = root / "landing" / "aurora" / "events"
        stored = sum(p.read_bytes().count(b"\n") for p in events_dir.glob("*.ndjson"))
        left_open = list(events_dir.glob("*.open"))
        print(f"acknowledged events {acknowledged:,}; lines in sealed segments {stored:,}; open segments left {len(left_open)}")
        if stored < acknowledged or left_open:
            raise SystemExit("FAILED: acknowledged events missing from sealed segments")


if __name__ == "__main__":
    main()
