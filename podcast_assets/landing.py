"""What has landed: the files in ``landing/`` that belong to each provider and period."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from podcast_assets.providers.specs import ProviderSpec
from podcast_assets.settings import Settings

SHOW_DIRECTORY_FILE = "shows.csv"


def drop_folder(settings: Settings, spec: ProviderSpec) -> Path:
    folder = settings.landing(spec.name)
    return folder / spec.subdir if spec.subdir else folder


def landed_files(settings: Settings, spec: ProviderSpec) -> list[Path]:
    """The provider's drops (files matching its pattern), sorted by name."""
    folder = drop_folder(settings, spec)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and spec.match(p.name))


def file_period(spec: ProviderSpec, path: Path) -> date | None:
    """The date or month a dated file is for, from its name (months as their first day);
    None if the name's date is no real one (``2025-02-30``, ``2025-13``)."""
    text = spec.match(path.name)["period"]  # type: ignore[index]
    try:
        return date.fromisoformat(text if len(text) == 10 else text + "-01")
    except ValueError:
        return None


def misdated_files(settings: Settings, spec: ProviderSpec) -> list[Path]:
    """Drops named for no real date: they belong to no partition, so they wait in landing
    (named by the sensor and by ``refresh``, which fails) until someone renames them."""
    if spec.cadence == "instant":
        return []
    return [path for path in landed_files(settings, spec) if file_period(spec, path) is None]


def current_deliveries(settings: Settings, spec: ProviderSpec) -> dict[date, Path]:
    """Per period, the file that holds it now: the one that landed last when several
    names carry the same period (``x.csv`` and a later ``x.csv.gz``)."""
    current: dict[date, Path] = {}
    for path in landed_files(settings, spec):
        period = file_period(spec, path)
        if period is None:
            continue  # see misdated_files
        if period not in current or _landed(path) > _landed(current[period]):
            current[period] = path
    return current


def _landed(path: Path) -> tuple[int, int, str]:
    """When a file landed: its inode change time, which no copy carries over (``cp -p``
    and ``rsync -t`` keep the source's mtime, which may be older than a file landed
    before it); then its mtime and name, for files of one clock tick."""
    stat = path.stat()
    return stat.st_ctime_ns, stat.st_mtime_ns, path.name


def show_directory_file(settings: Settings, spec: ProviderSpec) -> Path:
    return settings.landing(spec.name) / SHOW_DIRECTORY_FILE


def catalog_files(settings: Settings) -> list[Path]:
    folder = settings.landing("catalog")
    return sorted(folder.glob("*.xml")) if folder.is_dir() else []
