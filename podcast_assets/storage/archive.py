"""The archive keeps an immutable copy of every file ever received; quarantine keeps the
rejected ones with a machine-readable reason beside them. Nothing is ever deleted.

An archived copy is named ``<delivery_id>__<file name>`` where ``delivery_id`` is the
first 16 hex digits of the content's SHA-256, so two deliveries of the same name never
collide and the same bytes delivered twice are stored once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from podcast_assets.settings import Settings


@dataclass(frozen=True)
class Delivery:
    provider: str
    file_name: str
    fingerprint: str  # size, mtime and ctime of the landed file: what sensors compare
    delivery_id: str
    archive_path: Path


def fingerprint(path: Path) -> str:
    """What tells a re-delivery from the file already seen, without reading it: size and
    mtime, and the inode change time, which no copy can carry over (``cp -p`` and
    ``rsync -t`` keep the mtime of a corrected file of the same size)."""
    stat = path.stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}-{stat.st_ctime_ns}"


def landed_mtime_ns(fingerprint: str) -> int:
    """The landed file's mtime a ``fingerprint`` recorded (when that delivery landed)."""
    return int(fingerprint.split("-")[1])


def _copy_atomically(source: Path, target: Path, content: tuple[str, bytes] | None = None) -> None:
    """Copy ``source`` to ``target``, keeping the landed mtime (it orders catalog crawls);
    ``content``: its fingerprint and bytes as read before (``read_landed``), when given."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    if content is None:
        shutil.copy2(source, tmp)
    else:
        landed, data = content
        tmp.write_bytes(data)
        os.utime(tmp, ns=(landed_mtime_ns(landed), landed_mtime_ns(landed)))
    os.chmod(tmp, 0o444)
    os.replace(tmp, target)


def read_landed(path: Path) -> tuple[str, bytes]:
    """A landed file's fingerprint and content, the fingerprint taken first: a file that
    changes while it is read then has a fingerprint not yet handled, and is read again."""
    return fingerprint(path), path.read_bytes()


def archive(settings: Settings, provider: str, path: Path, content: tuple[str, bytes] | None = None) -> Delivery:
    """Copy a landed file into ``archive/<provider>/`` (once per distinct content).
    ``content``: ``read_landed(path)``, when the caller has read the file to parse it too;
    then the bytes hashed, archived and parsed are the same even if the file changes
    meanwhile."""
    content = read_landed(path) if content is None else content
    landed, data = content
    delivery_id = hashlib.sha256(data).hexdigest()[:16]
    target = settings.archive / provider / f"{delivery_id}__{path.name}"
    if not target.exists():
        _copy_atomically(path, target, content)
    return Delivery(provider, path.name, landed, delivery_id, target)


def quarantine(settings: Settings, delivery: Delivery, reason: dict[str, Any]) -> Path:
    """Put a rejected delivery in ``quarantine/<provider>/`` with ``<name>.reason.json``."""
    target = settings.quarantine / delivery.provider / delivery.archive_path.name
    if not target.exists():
        _copy_atomically(delivery.archive_path, target)
    record = {
        "provider": delivery.provider,
        "delivery_id": delivery.delivery_id,
        "quarantined_at": datetime.now(timezone.utc).isoformat(),
        **reason,
    }
    reason_path = target.with_name(target.name + ".reason.json")
    reason_path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return target
