"""One writer of a provider's feed at a time, across processes on this machine.

A feed step reads the current delivery of a period and commits it to bronze and silver;
two steps of one provider at once (a sensor's run beside a UI backfill or ``refresh``)
could each read a different delivery of the same day, and the one that commits last
would win, whichever it read. The steps take an exclusive ``flock`` on
``locks/<name>.lock`` under the lakehouse root for their whole read-and-commit, so they
run one after another. The kernel drops the lock when its holder dies, so a killed run
never leaves it held.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from podcast_assets.settings import Settings


@contextmanager
def held(settings: Settings, name: str, log: logging.Logger) -> Iterator[None]:
    """Hold the lock ``name``, waiting (and saying so) while another process holds it."""
    path = settings.locks / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another %s step to finish (%s)", name, path)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
