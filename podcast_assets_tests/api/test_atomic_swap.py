"""Re-publishing under load: readers see the old store or the new one, never an error."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from .conftest import UNKNOWN, lakehouse, publish, running_api


def test_readers_never_fail_while_the_store_is_republished(tmp_path: Path) -> None:
    settings = lakehouse(tmp_path)
    publish(settings)
    failures: list[str] = []
    totals: set[int] = set()
    done = threading.Event()

    with running_api(settings) as api:
        def read() -> None:
            with httpx.Client(base_url=api.url, timeout=10) as client:
                while not done.is_set():
                    response = client.get("/v1/charts/top", params={"limit": 100})
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text}")
                        continue
                    body = response.json()
                    totals.add(body["total"])
                    if len(body["items"]) != body["total"]:  # one snapshot answers the whole request
                        failures.append(f"torn page: {body}")

        readers = [threading.Thread(target=read) for _ in range(3)]
        for reader in readers:
            reader.start()
        try:
            for version in range(12):
                publish(settings, extra_podcast=UNKNOWN if version % 2 == 0 else None)
        finally:
            done.set()
            for reader in readers:
                reader.join(timeout=30)

    assert failures == []
    assert totals == {4, 5}  # both versions were seen, and nothing in between
