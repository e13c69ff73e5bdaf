"""Ingest benchmark (issue 2, "Done when"): one generated boreal daily CSV through bronze +
silver, against the bare floor of ``polars.read_csv`` + ``deltalake.write_deltalake`` of the
same file, in the same run.

Run: ``.venv/bin/python benchmarks/ingest.py [--rows 1000000] [--repeat 3] [--profile [PHASE ...]]``.

1. Generates (seeded) ``landing/boreal/boreal_plays_2025-03-01.csv`` with ``--rows`` rows
   (report_date, show_id, episode_guid, episode_title, plays; some titles carry quotes,
   commas and non-ASCII letters, some are empty), a 20,000-row file of the day before and
   ``landing/boreal/shows.csv`` (1 show in 50 left out, so some listens stay unmapped) in a
   throw-away lakehouse.
2. Runs each phase ``--repeat`` times, interleaved, every run in its own subprocess on its
   own fresh copy of the landing folder, so each gets a clean lakehouse and its own peak RSS
   (``ru_maxrss``; polars and delta-rs allocate natively, which tracemalloc cannot see):

   - ``baseline``: ``pl.read_csv(file)`` + ``write_deltalake(table, df)``.
   - ``pure``: our functions without Dagster: ``feed.ingest_feed``, what the feed step
     runs (archive, read, type, pandera-validate; then the bronze commit on a thread while
     ``to_silver``, pandera-validate and the silver commit run; then the ledger).
   - ``dagster``: ``dg.materialize`` of the ``boreal_feed`` step (``bronze/boreal`` and
     ``silver/boreal_listens``) for the partition on an ephemeral instance.

   Before the clock starts, each phase of ours ingests the show directory and the day
   before (so the timed run overwrites a window of existing tables, as every day but the
   first does, and Dagster is warm).
3. Prints the best wall time of the runs as rows/s, the ratio ours/baseline against the
   issue's target (within 2x), CPU seconds (all threads; steadier than wall time on a
   shared machine), and peak RSS: the whole process's, and its growth during the timed part.
   Then the ratio round by round (each Dagster run against the bare run of its round, so a
   slow spell of the machine weighs on both): its median and range, and in how many rounds
   it was within the target.

``--profile`` then runs the given phases (default: pure and dagster) once more with cProfile
around the timed part and prints the top functions. Nothing here asserts on timings; it only
checks that every run of ours wrote the same rows.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

DAY = date(2025, 3, 1)
PARTITION = DAY.isoformat()
CSV_NAME = f"boreal_plays_{PARTITION}.csv"
# The day before, small, ingested before the clock starts: the timed run then writes into
# tables that exist (predicate overwrite, as every day after the first), not creates them.
WARM_DAY = DAY - timedelta(days=1)
WARM_ROWS = 20_000
PHASES = ("baseline", "pure", "dagster")
TARGET_RATIO = 2.0
RESULT = "BENCH-RESULT "


# ---- data -----------------------------------------------------------------------------
_WORDS = ("news", "tales", "weekly", "deep", "dive", "café", "nordlys", "garden", "code", "history")


def _title(rng: random.Random, number: int) -> str | None:
    kind = rng.random()
    if kind < 0.03:
        return None  # an empty field
    if kind < 0.13:  # quotes and commas: the CSV writer must quote these
        return f'Ep. {number}: "{rng.choice(_WORDS).title()}, {rng.choice(_WORDS)}" and more'
    if kind < 0.18:
        return f"{rng.choice(_WORDS).title()}, part {number % 7 + 1}"
    return f"Episode {number}: {rng.choice(_WORDS)} {rng.choice(_WORDS)}"


def generate(landing: Path, rows: int, seed: int) -> dict[str, Any]:
    """The day's CSV, a small CSV of the day before and the directory, deterministic for
    ``(rows, seed)``."""
    import polars as pl

    rng = random.Random(seed)
    shows = max(10, rows // 200)
    show_ids = [f"{n:08X}" for n in rng.sample(range(2**32), shows)]  # distinct, as the directory requires
    # Zipf-ish popularity: a few big shows, a long tail. Every row is one (show, episode).
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(shows)]
    show_of_row = rng.choices(range(shows), weights=weights, k=rows)
    titles = pl.Series([_title(rng, n) for n in range(1, 4001)], dtype=pl.String)
    df = pl.DataFrame(
        {
            "show": pl.Series(show_of_row, dtype=pl.Int64),
            "plays": pl.Series([min(int(rng.paretovariate(1.3)) - 1, 250_000) for _ in range(rows)], dtype=pl.Int64),
            "title_no": pl.Series([rng.randrange(len(titles)) for _ in range(rows)], dtype=pl.Int64),
        }
    ).with_row_index("n")
    ids = pl.Series("show_id", show_ids)
    df = df.select(
        pl.lit(PARTITION).alias("report_date"),
        pl.col("show").map_batches(lambda s: ids.gather(s), return_dtype=pl.String).alias("show_id"),
        pl.format("urn:boreal:{}:ep:{}", pl.col("show"), pl.col("n")).alias("episode_guid"),
        pl.col("title_no").map_batches(lambda s: titles.gather(s), return_dtype=pl.String).alias("episode_title"),
        pl.col("plays"),
    )
    landing.mkdir(parents=True, exist_ok=True)
    df.write_csv(landing / CSV_NAME, null_value="")
    df.head(WARM_ROWS).with_columns(pl.lit(WARM_DAY.isoformat()).alias("report_date")).write_csv(
        landing / f"boreal_plays_{WARM_DAY.isoformat()}.csv", null_value=""
    )
    # The directory: every show but 1 in 50 (their listens stay unmapped), URL variants
    # (scheme, trailing slash, host case) included.
    hosts = ("rss.borealhost.example", "Feeds.Example.COM", "podhost.example")
    directory = pl.DataFrame(
        {
            "show_id": [s for i, s in enumerate(show_ids) if i % 50 != 7],
            "feed_url": [
                f"{'http' if i % 3 else 'https'}://{hosts[i % 3]}/shows/{i}{'/' if i % 4 == 0 else ''}"
                for i in range(shows)
                if i % 50 != 7
            ],
        }
    )
    directory.write_csv(landing / "shows.csv")
    return {
        "rows": rows,
        "shows": shows,
        "csv_bytes": (landing / CSV_NAME).stat().st_size,
        "quoted_rows": df.filter(pl.col("episode_title").str.contains('"', literal=True)).height,
    }


# ---- phases (each runs in a child process) ----------------------------------------------
def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime  # every thread's: polars and delta-rs run several


def _timed(fn: Callable[[], dict[str, Any]], profile: Path | None) -> dict[str, Any]:
    """Run the measured part of a phase: wall and CPU seconds, RSS before it, and (with
    ``profile``) a cProfile of it written to that file."""
    import cProfile
    import pstats

    prof = cProfile.Profile() if profile else None
    rss0, cpu0, t0 = _rss_mib(), _cpu_s(), time.perf_counter()
    if prof:
        prof.enable()
    out = fn()
    if prof:
        prof.disable()
    seconds, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    if prof and profile:
        with profile.open("w") as fh:
            pstats.Stats(prof, stream=fh).sort_stats("cumulative").print_stats(60)
            pstats.Stats(prof, stream=fh).sort_stats("tottime").print_stats(25)
    return {"seconds": seconds, "cpu_s": cpu, "rss_before_mib": rss0, **out}


def phase_baseline(root: Path, rows: int, profile: Path | None) -> dict[str, Any]:
    import polars as pl
    from deltalake import write_deltalake

    csv = root / "landing" / "boreal" / CSV_NAME
    table = str(root / "delta" / "bare" / "boreal")

    def run() -> dict[str, Any]:
        t0 = time.perf_counter()
        df = pl.read_csv(csv)
        t1 = time.perf_counter()
        write_deltalake(table, df, mode="overwrite")
        assert df.height == rows, df.height
        return {"read_s": t1 - t0, "write_s": time.perf_counter() - t1}

    out = _timed(run, profile)
    # Not in the baseline: the bare cost of the two-table shape of ours (bronze, then silver
    # at about the same row count): read the table back and write it again.
    t0 = time.perf_counter()
    write_deltalake(table + "_again", pl.scan_delta(table).collect(), mode="overwrite")
    return {**out, "read_write_again_s": time.perf_counter() - t0}


def _settings(root: Path):
    from podcast_assets.resources import LakehouseResource

    return LakehouseResource(lakehouse_dir=str(root)).settings


def phase_pure(root: Path, rows: int, profile: Path | None) -> dict[str, Any]:
    from podcast_assets.feed import ingest_feed
    from podcast_assets.ingest import ingest_show_directories
    from podcast_assets.providers.specs import provider

    log = logging.getLogger("bench")
    settings = _settings(root)
    spec = provider("boreal")
    one_day = timedelta(days=1)
    # not timed: the directory and the day before (so the tables exist)
    ingest_show_directories(settings, [spec], log)
    ingest_feed(settings, spec, WARM_DAY, DAY, log)

    def run() -> dict[str, Any]:
        out = ingest_feed(settings, spec, DAY, DAY + one_day, log)
        assert out.bronze is not None and not out.bronze.failures, out.bronze
        return {}

    return {**_timed(run, profile), **_written(settings, spec, DAY, DAY + one_day)}


def _written(settings, spec, start: date, end: date) -> dict[str, Any]:
    """What landed, to check the phases of ours agree (read after the clock stopped)."""
    import polars as pl

    from podcast_assets.assets.silver import LISTENS
    from podcast_assets.ingest import bronze_table
    from podcast_assets.storage import delta

    window = delta.in_window("period_start", start, end)
    bronze = delta.read(bronze_table(settings, spec), window)
    silver = delta.read(settings.delta(*LISTENS), window & (pl.col("provider") == spec.name))
    return {
        "bronze_rows": bronze.height,
        "bronze_listens": int(bronze.get_column("listens").sum()),
        "silver_rows": silver.height,
        "silver_listens": int(silver.get_column("listens").sum()),
        "unmapped_listens": int(silver.filter(pl.col("podcast_guid").is_null()).get_column("listens").sum()),
    }


def phase_dagster(root: Path, rows: int, profile: Path | None) -> dict[str, Any]:
    import dagster as dg

    from podcast_assets.assets.bronze import bronze_assets
    from podcast_assets.assets.feeds import feed_assets
    from podcast_assets.assets.keys import SHOW_DIRECTORY, bronze_key
    from podcast_assets.providers.specs import provider
    from podcast_assets.resources import LakehouseResource

    spec = provider("boreal")
    by_key = {key: a for a in [*bronze_assets, *feed_assets] for key in a.keys}
    selection = [by_key[bronze_key(spec)]]  # the feed step: bronze/boreal and silver/boreal_listens
    resources = {"lakehouse": LakehouseResource(lakehouse_dir=str(root))}
    instance = dg.DagsterInstance.ephemeral()
    # not timed: the directory and the day before (the tables exist; Dagster is warm)
    assert dg.materialize([by_key[SHOW_DIRECTORY]], resources=resources, instance=instance).success
    assert dg.materialize(selection, partition_key=WARM_DAY.isoformat(), resources=resources, instance=instance).success

    def run() -> dict[str, Any]:
        result = dg.materialize(selection, partition_key=PARTITION, resources=resources, instance=instance)
        assert result.success
        steps = {
            e.step_key: e.event_specific_data.duration_ms / 1000  # type: ignore[union-attr]
            for e in result.all_events
            if e.event_type_value == "STEP_SUCCESS"
        }
        return {"step_s": steps}

    return {**_timed(run, profile), **_written(_settings(root), spec, DAY, DAY + timedelta(days=1))}


PHASE_FUNCS: dict[str, Callable[[Path, int, Path | None], dict[str, Any]]] = {
    "baseline": phase_baseline, "pure": phase_pure, "dagster": phase_dagster,
}


def child(phase: str, root: Path, rows: int, profile: Path | None) -> None:
    logging.basicConfig(level=logging.WARNING)
    out = PHASE_FUNCS[phase](root, rows, profile)
    out["rss_peak_mib"] = _rss_mib()
    print(RESULT + json.dumps(out), flush=True)


# ---- driver ---------------------------------------------------------------------------
def run_phase(phase: str, work: Path, rows: int, run: int, profile: bool = False) -> dict[str, Any]:
    """One phase in a fresh child process on a fresh copy of the landing folder."""
    root = work / f"{phase}-{run}"
    shutil.copytree(work / "source", root / "landing")
    env = {**os.environ, "PODCAST_LAKEHOUSE_DIR": str(root), "PODCAST_DATA_START": "2025-01-01",
           "DAGSTER_HOME": str(work / "dagster_home")}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", phase, "--root", str(root), "--rows", str(rows)]
    profile_file = work / f"profile-{phase}.txt"
    if profile:
        cmd += ["--profile-to", str(profile_file)]
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    try:
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout + proc.stderr)
            raise SystemExit(f"phase {phase} failed (exit {proc.returncode})")
        line = next(line for line in proc.stdout.splitlines() if line.startswith(RESULT))
        if profile:
            print(f"\n---- cProfile of the timed part of {phase} ----")
            print(profile_file.read_text())
        return json.loads(line[len(RESULT):])
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per phase; the best time is reported")
    parser.add_argument("--seed", type=int, default=20250301)
    parser.add_argument("--profile", nargs="*", choices=PHASES, default=None,
                        help="after the runs, one more run of these phases (default: pure, dagster) under cProfile")
    parser.add_argument("--child", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.root, args.rows, args.profile_to)
        return

    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        info = generate(work / "source" / "boreal", args.rows, args.seed)
        print(
            f"generated {info['rows']:,} rows ({info['shows']:,} shows, {info['quoted_rows']:,} titles with quotes "
            f"and commas, {info['csv_bytes'] / 2**20:.1f} MiB CSV) "
            f"in {time.perf_counter() - t0:.1f} s, seed {args.seed}; {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        results: dict[str, list[dict[str, Any]]] = {p: [] for p in PHASES}
        for run in range(args.repeat):  # interleaved, so drift hits every phase alike
            for phase in PHASES:
                results[phase].append(run_phase(phase, work, args.rows, run))
        report(results, args.rows)
        if args.profile is not None:
            for phase in args.profile or ["pure", "dagster"]:
                run_phase(phase, work, args.rows, args.repeat, profile=True)


LABELS = {
    "baseline": "bare read_csv + write_deltalake",
    "pure": "ours, functions (bronze+silver)",
    "dagster": "ours, materialize (bronze+silver)",
}


def report(results: dict[str, list[dict[str, Any]]], rows: int) -> None:
    best = {p: min(runs, key=lambda r: r["seconds"]) for p, runs in results.items()}
    cpu = {p: min(r["cpu_s"] for r in runs) for p, runs in results.items()}
    base = best["baseline"]
    print(
        f"\n{'phase':<35}{'wall s':>8}{'rows/s':>12}{'x bare':>8}{'CPU s':>8}{'x bare':>8}"
        f"{'peak RSS':>10}{'timed part':>12}"
    )
    for phase in PHASES:
        r = best[phase]
        peak = max(x["rss_peak_mib"] for x in results[phase])
        grew = max(x["rss_peak_mib"] - x["rss_before_mib"] for x in results[phase])
        print(
            f"{LABELS[phase]:<35}{r['seconds']:>8.3f}{rows / r['seconds']:>12,.0f}{r['seconds'] / base['seconds']:>7.2f}x"
            f"{cpu[phase]:>8.2f}{cpu[phase] / cpu['baseline']:>7.2f}x{peak:>6.0f} MiB{grew:>+8.0f} MiB"
        )
    b, p, d = best["baseline"], best["pure"], best["dagster"]
    again = min(x["read_write_again_s"] for x in results["baseline"])
    print(f"\nbare:      read_csv {b['read_s']:.3f} s, write_deltalake {b['write_s']:.3f} s; reading that table back "
          f"and writing it again (not in the baseline) {again:.3f} s more")
    steps = ", ".join(f"{k} {v:.3f} s" for k, v in d["step_s"].items())
    print(f"dagster:   step {steps}; overhead over the functions {d['seconds'] - p['seconds']:+.3f} s wall, "
          f"{cpu['dagster'] - cpu['pure']:+.3f} s CPU")
    runs = "; ".join(f"{ph} " + ", ".join(f"{x['seconds']:.2f}" for x in rs) for ph, rs in results.items())
    print(f"every run (wall s): {runs}")
    print("(wall: the best run; CPU: the least of the runs, user+sys of all threads; 'x bare' = ours / bare; "
          "peak RSS: the whole process, imports and set-up included; timed part: how much the peak grew in it)")
    ratio = d["seconds"] / b["seconds"]
    verdict = "within" if ratio <= TARGET_RATIO else "NOT within"
    print(f"\nbronze+silver through Dagster = {ratio:.2f}x the bare baseline: {verdict} the {TARGET_RATIO:.0f}x target "
          f"(functions alone {p['seconds'] / b['seconds']:.2f}x)")
    paired = sorted(dg["seconds"] / bl["seconds"] for bl, dg in zip(results["baseline"], results["dagster"]))
    print(f"round by round (each Dagster run against the same round's bare run): median {statistics.median(paired):.2f}x, "
          f"{paired[0]:.2f}-{paired[-1]:.2f}x; within the target in {sum(r <= TARGET_RATIO for r in paired)} "
          f"of {len(paired)} rounds")
    print(f"against a bare two-table floor (read_csv, write, read back, write again: {b['seconds'] + again:.3f} s): "
          f"{d['seconds'] / (b['seconds'] + again):.2f}x")
    keys = ("bronze_rows", "bronze_listens", "silver_rows", "silver_listens", "unmapped_listens")
    written = {tuple(r[k] for k in keys) for ph in ("pure", "dagster") for r in results[ph]}
    if len(written) != 1 or p["bronze_rows"] != rows:
        raise SystemExit(f"the runs of ours disagree on what they wrote: {written}")
    print("written, every run alike: " + ", ".join(f"{k} {v:,}" for k, v in zip(keys, written.pop())))


if __name__ == "__main__":
    main()
