"""``python -m podcast_assets.collector [--host H] [--port P]``: the collector with settings
from the environment, as ``podcast-assets collector`` runs it (used by the crash test and
the benchmark, which must run it in a separate process)."""

from __future__ import annotations

import argparse

from podcast_assets.collector.app import serve
from podcast_assets.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m podcast_assets.collector", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    args = parser.parse_args(argv)
    serve(Settings.from_env(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
