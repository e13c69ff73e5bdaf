"""The ``podcast-assets`` command (CONTRACT.md section 5)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import dagster as dg

from podcast_assets.settings import Settings, get_settings


def _instance(settings: Settings) -> dg.DagsterInstance:
    home = Path(settings.dagster_home).absolute()
    home.mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.from_config(str(home))


def cmd_refresh(settings: Settings) -> int:
    from podcast_assets.definitions import all_assets
    from podcast_assets.refresh import refresh

    print(f"refresh: lakehouse {settings.root}, Dagster home {Path(settings.dagster_home).absolute()}")
    with _instance(settings) as instance:
        report = refresh(settings, instance, all_assets)
    if report.ok:
        print(f"refresh: done, {report.runs} runs, all succeeded")
        return 0
    print(f"refresh: {len(report.failures)} failures in {report.runs} runs (quarantined files are in {settings.quarantine})")
    return 1


def cmd_demo(settings: Settings, seed: int) -> int:
    from podcast_assets import sample_data
    from podcast_assets.demo import summary

    print(f"demo: writing sample drops for every provider into {settings.root / 'landing'}")
    market = sample_data.generate_market("demo", seed=seed, market_shares=dict(settings.market_shares))
    written = sample_data.write_drops(market, settings)
    for provider_name, files in sorted(written.files.items()):
        print(f"  {provider_name:8s} {files:4d} files, {written.rows.get(provider_name, 0):8d} rows")
    status = cmd_refresh(settings)
    print(summary(settings))
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="podcast-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="sample drops for every provider, ingest them, print the results")
    demo.add_argument("--seed", type=int, default=7)
    sub.add_parser("refresh", help="ingest every landed drop not yet ingested; exit 0 only if all succeeded")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "demo":
        return cmd_demo(settings, args.seed)
    return cmd_refresh(settings)


if __name__ == "__main__":
    sys.exit(main())
