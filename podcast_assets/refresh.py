"""``podcast-assets refresh``: ingest every landed drop not yet ingested, in-process,
against the Dagster instance (so the runs show in the UI), until nothing is pending.

It executes the same plan the sensors request (``planning.plan``). Consecutive
partitions are folded into ranged runs; a ranged run that fails is retried partition by
partition, so one bad file costs only its own partition. It does all it can, then
reports whether everything succeeded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import dagster as dg

from podcast_assets.planning import Work, merge_ranges, plan
from podcast_assets.resources import LakehouseResource
from podcast_assets.settings import Settings

MAX_ROUNDS = 10  # a round's work can reveal more (new segments -> their days)


@dataclass
class RefreshReport:
    runs: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def _failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        f"{event.step_key}: {event.event_specific_data.error.message.strip()}"  # type: ignore[union-attr]
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.STEP_FAILURE
    ]


def execute(work: Work, assets: list, instance: dg.DagsterInstance, lakehouse: LakehouseResource) -> list[str]:
    """Materialize one unit of work in-process; returns failure messages (empty = ok)."""
    request = work.run_request()
    result = dg.materialize(
        assets,
        selection=list(work.assets),
        partition_key=request.partition_key,
        tags={**request.tags, "podcast_assets/trigger": "refresh", "podcast_assets/work": work.run_key[:200]},
        instance=instance,
        resources={"lakehouse": lakehouse},
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        raise_on_error=False,
    )
    return [] if result.success else _failure_messages(result) or ["run failed"]


def refresh(
    settings: Settings,
    instance: dg.DagsterInstance,
    assets: list,
    echo: Callable[[str], None] = print,
) -> RefreshReport:
    lakehouse = LakehouseResource(lakehouse_dir=settings.lakehouse_dir)
    report, attempted = RefreshReport(), set()
    for round_ in range(1, MAX_ROUNDS + 1):
        pending = [w for w in plan(settings) if w.run_key not in attempted]
        if not pending:
            break
        attempted.update(w.run_key for w in pending)
        work = merge_ranges(pending)
        echo(f"round {round_}: {len(pending)} pending, in {len(work)} runs")
        for i, item in enumerate(work, start=1):
            echo(f"  [{i}/{len(work)}] {item.description}")
            report.runs += 1
            started = time.monotonic()
            errors = execute(item, assets, instance, lakehouse)
            echo(f"    {'failed' if errors else 'done'} in {time.monotonic() - started:.1f}s")
            if errors and len(item.parts) > 1:
                echo(f"    ranged run failed; retrying its {len(item.parts)} partitions one by one")
                errors = []
                for part in item.parts:
                    report.runs += 1
                    errors += execute(part, assets, instance, lakehouse)
            for message in errors:
                echo(f"    FAILED {message}")
            report.failures += errors
    return report
