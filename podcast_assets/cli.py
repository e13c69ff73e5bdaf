"""The ``podcast-assets`` command (CONTRACT.md section 5)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import dagster as dg

from podcast_assets.api.keys import TIERS, KeyStore
from podcast_assets.settings import Settings, get_settings


def _instance(settings: Settings) -> dg.DagsterInstance:
    home = Path(settings.dagster_home).absolute()
    home.mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.from_config(str(home))


def cmd_refresh(settings: Settings) -> int:
    from podcast_assets.definitions import materializable
    from podcast_assets.refresh import refresh

    print(f"refresh: lakehouse {settings.root}, Dagster home {Path(settings.dagster_home).absolute()}")
    with _instance(settings) as instance:
        report = refresh(settings, instance, materializable)
    if report.ok:
        print(f"refresh: done, {report.runs} runs, all succeeded")
        return 0
    print(f"refresh: {len(report.failures)} failures in {report.runs} runs (quarantined files are in {settings.quarantine})")
    return 1


DEMO_MARK = ".demo"  # in a lakehouse the demo wrote: running it again there is fine


def not_the_demos(settings: Settings) -> list[str]:
    """The folders of ``settings``' lakehouse holding data the demo did not write (the
    demo writes its sample drops over what landing holds, and ingests them)."""
    if (settings.root / DEMO_MARK).exists():
        return []
    return [name for name in ("landing", "delta") if (settings.root / name).is_dir() and any((settings.root / name).iterdir())]


def cmd_demo(settings: Settings, seed: int, preset: str) -> int:
    from podcast_assets import sample_data
    from podcast_assets.demo import summary

    if held := not_the_demos(settings):
        print(f"demo: {settings.root} already holds data ({', '.join(held)}); the demo needs a fresh lakehouse: "
              "set PODCAST_LAKEHOUSE_DIR to a new directory", file=sys.stderr)
        return 2
    settings.root.mkdir(parents=True, exist_ok=True)
    (settings.root / DEMO_MARK).touch()
    print(f"demo: writing sample drops for every provider into {settings.root / 'landing'}")
    market = sample_data.generate_market(preset, seed=seed, market_shares=dict(settings.market_shares))
    written = sample_data.write_drops(market, settings)
    for provider_name, files in sorted(written.files.items()):
        print(f"  {provider_name:8s} {files:4d} files, {written.rows.get(provider_name, 0):8d} rows")
    status = cmd_refresh(settings)
    print(summary(settings))
    return status


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    store = KeyStore.in_dir(settings.serving_dir)
    if args.keys_command == "create":
        key_id, key = store.create(args.tier)
        print(f"created {args.tier} key {key_id}; store it now, it is not shown again:")
        print(key)
        return 0
    if args.keys_command == "list":
        for item in store.list_keys():
            state = f"revoked {item.revoked_at}" if item.revoked_at else "active"
            print(f"{item.key_id}  {item.tier:8s}  created {item.created_at}  {state}")
        return 0
    if store.revoke(args.key_id):
        print(f"revoked {args.key_id}")
        return 0
    print(f"no active key {args.key_id}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="podcast-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="sample drops for every provider, ingest them, print the results")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--preset", default="demo", choices=["tiny", "demo"], help="the sample market's size")
    sub.add_parser("refresh", help="ingest every landed drop not yet ingested; exit 0 only if all succeeded")
    collector = sub.add_parser("collector", help="serve the aurora event endpoint")
    collector.add_argument("--host", default="127.0.0.1")
    collector.add_argument("--port", type=int, default=8787)
    api = sub.add_parser("api", help="serve the read API for the website and pro users")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8788)
    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="print a new API key (last line of output)")
    create.add_argument("--tier", required=True, choices=TIERS)
    keys.add_parser("list", help="list keys (never their secrets)")
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "api":
        from podcast_assets.api import serve as serve_api

        serve_api(settings, host=args.host, port=args.port)
        return 0
    if args.command == "keys":
        return cmd_keys(settings, args)
    if args.command == "demo":
        return cmd_demo(settings, args.seed, args.preset)
    if args.command == "collector":
        from podcast_assets.collector import serve

        serve(settings, host=args.host, port=args.port)
        return 0
    return cmd_refresh(settings)


if __name__ == "__main__":
    sys.exit(main())
