"""``podcast-assets refresh``: ingest every landed drop not yet ingested, in-process,
against the Dagster instance (so the runs show in the UI), until nothing is pending.

It executes the same plan the sensors request (``planning.plan``). Consecutive
partitions are folded into ranged runs; a ranged run that fails is retried partition by
partition, so one bad file costs only its own partition. It does all it can, then
reports whether everything succeeded. Then it settles gold statuses that time alone
changed (``settling.py``) and rematerializes what depends on the data it changed, by
evaluating the same automation conditions the automation sensor uses.

A refresh that was killed leaves its run unfinished, and an unfinished run holds its
partitions "in progress" for the automation conditions, for good. So each refresh first
marks the runs of killed refreshes on this host as failed (and frees any pool slot they
held). The automation cursor is saved only once the runs it requested have succeeded, so
the next refresh requests again what a killed or failed one did not finish.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import dagster as dg
from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor

from podcast_assets import landing
from podcast_assets.planning import IN_FLIGHT, Work, merge_ranges, outside_partitions, plan
from podcast_assets.providers.specs import PROVIDERS
from podcast_assets.resources import LakehouseResource, all_resources
from podcast_assets.settings import Settings
from podcast_assets.settling import settling_work

MAX_ROUNDS = 10  # a round's work can reveal more (new segments -> their days)
AUTOMATION_CURSOR_FILE = "refresh_automation_cursor.json"
WORK_TAG, PID_TAG, HOST_TAG = "podcast_assets/work", "podcast_assets/pid", "podcast_assets/host"


@dataclass
class RefreshReport:
    runs: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def _failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    """Each failed step with the innermost error's message (a quarantine names file, line, rule)."""
    messages = []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error  # type: ignore[union-attr]
            while error.cause is not None:
                error = error.cause
            messages.append(f"{event.step_key}: {error.message.strip()}")
    return messages


def execute(work: Work, assets: list, instance: dg.DagsterInstance, lakehouse: LakehouseResource) -> list[str]:
    """Materialize one unit of work in-process; returns failure messages (empty = ok)."""
    request = work.run_request()
    result = dg.materialize(
        assets,
        selection=list(work.assets),
        partition_key=request.partition_key,
        tags={
            **request.tags,
            "podcast_assets/trigger": "refresh",
            WORK_TAG: work.run_key[:200],
            PID_TAG: str(os.getpid()),
            HOST_TAG: socket.gethostname(),
        },
        instance=instance,
        resources=all_resources(lakehouse),
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        raise_on_error=False,
    )
    return [] if result.success else _failure_messages(result) or ["run failed"]


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a killed process that had our pid (a restarted container)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def fail_orphaned_runs(instance: dg.DagsterInstance, echo: Callable[[str], None]) -> None:
    """Mark failed the unfinished runs of refreshes on this host whose process is gone, and
    free the pool slots they held."""
    unfinished = instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT, tags={HOST_TAG: socket.gethostname()}))
    orphans = [run for run in unfinished if not _running(int(run.tags[PID_TAG]))]
    for run in orphans:
        instance.report_run_failed(run, f"the refresh that ran it (pid {run.tags[PID_TAG]}) was killed")
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        echo(f"run {run.run_id[:8]} ({run.tags.get(WORK_TAG)}) was left unfinished by a killed refresh: "
             "marked failed")


def _run(work: Work, assets: list, instance: dg.DagsterInstance, lakehouse: LakehouseResource,
         report: RefreshReport, echo: Callable[[str], None]) -> list[str]:
    """``execute`` one unit of work, counting it and saying how long it took."""
    report.runs += 1
    started = time.monotonic()
    errors = execute(work, assets, instance, lakehouse)
    echo(f"    {work.description}: {'failed' if errors else 'done'} in {time.monotonic() - started:.1f}s")
    return errors


def refresh(
    settings: Settings,
    instance: dg.DagsterInstance,
    assets: list,
    echo: Callable[[str], None] = print,
) -> RefreshReport:
    lakehouse = LakehouseResource(lakehouse_dir=settings.lakehouse_dir)
    report, attempted = RefreshReport(), set()
    fail_orphaned_runs(instance, echo)
    automation = _Automation(instance, assets, lakehouse)
    for round_ in range(1, MAX_ROUNDS + 1):
        pending = [w for w in plan(settings) if w.run_key not in attempted]
        if not pending:
            break
        attempted.update(w.run_key for w in pending)
        work = merge_ranges(pending)
        echo(f"round {round_}: {len(pending)} pending, in {len(work)} runs")
        for i, item in enumerate(work, start=1):
            echo(f"  [{i}/{len(work)}] {item.description} ...")
            errors = _run(item, assets, instance, lakehouse, report, echo)
            if errors and len(item.parts) > 1:
                echo(f"    ranged run failed; retrying its {len(item.parts)} partitions one by one")
                errors = [e for part in item.parts for e in _run(part, assets, instance, lakehouse, report, echo)]
            for message in errors:
                echo(f"    FAILED {message}")
            report.failures += errors
    for name in outside_partitions(settings):
        echo(f"  waiting: {name}: dated outside the partitions (PODCAST_DATA_START .. today)")
    for spec in PROVIDERS:
        for path in landing.misdated_files(settings, spec):
            report.failures.append(f"{spec.name}/{path.name}: the date in its name is no real date; rename it")
            echo(f"  FAILED {report.failures[-1]}")
    for item in settling_work(settings):
        echo(f"  settling: {item.description} ...")
        report.failures += _run(item, assets, instance, lakehouse, report, echo)
    _rematerialize_downstream(automation, assets, lakehouse, report, echo)
    return report


class _Automation:
    """The automation conditions evaluated in-process, as the automation sensor does. The
    evaluation cursor is kept in the Dagster home, so each evaluation sees only what
    changed since the previous one (the first one just sets that baseline)."""

    def __init__(self, instance: dg.DagsterInstance, assets: list, lakehouse: LakehouseResource) -> None:
        self.instance = instance
        self.defs = dg.Definitions(assets=assets, resources=all_resources(lakehouse))
        self.cursor_file = Path(instance.root_directory) / AUTOMATION_CURSOR_FILE
        if not self.cursor_file.exists():
            self.save(self.evaluate())

    def evaluate(self) -> dg.EvaluateAutomationConditionsResult:
        cursor = (
            dg.deserialize_value(self.cursor_file.read_text(), AssetDaemonCursor) if self.cursor_file.exists() else None
        )
        return dg.evaluate_automation_conditions(defs=self.defs, instance=self.instance, cursor=cursor)

    def save(self, result: dg.EvaluateAutomationConditionsResult) -> None:
        """Keep ``result``'s cursor, once the runs it requested have run."""
        self.cursor_file.write_text(dg.serialize_value(result.cursor))


def _rematerialize_downstream(
    automation: _Automation, assets: list, lakehouse: LakehouseResource, report: RefreshReport,
    echo: Callable[[str], None],
) -> None:
    """Run what the automation conditions request, until nothing more is requested. If a
    run fails, the cursor stays where it was, so the next refresh requests it all again."""
    for _ in range(MAX_ROUNDS):
        result = automation.evaluate()
        errors = [e for work in _downstream_work(assets, result)
                  for e in _run(work, assets, automation.instance, lakehouse, report, echo)]
        for message in errors:
            echo(f"    FAILED {message}")
        report.failures += errors
        if errors:
            return
        automation.save(result)
        if not result.total_requested:
            return


def _downstream_work(assets: list, result: dg.EvaluateAutomationConditionsResult) -> list[Work]:
    """One run per kind of partitioning: the requested monthly assets over the span of
    requested months (earliest to latest), then the unpartitioned ones."""
    partitioned: dict[dg.AssetKey, set[str]] = {}
    unpartitioned: list[dg.AssetKey] = []
    for asset in assets:
        for key in asset.keys:
            requested = result.get_requested_partitions(key)
            if requested == {None}:
                unpartitioned.append(key)
            elif requested:
                partitioned[key] = {k for k in requested if k is not None}
    work = []
    if partitioned:
        keys = sorted(set().union(*partitioned.values()))
        work.append(Work("automation", f"rematerialize {len(partitioned)} assets for {keys[0]}..{keys[-1]}",
                         tuple(partitioned), f"automation:{keys[0]}:{keys[-1]}", keys[0], keys[-1]))
    if unpartitioned:
        work.append(Work("automation", f"rematerialize {', '.join(k.to_user_string() for k in unpartitioned)}",
                         tuple(unpartitioned), "automation:unpartitioned"))
    return work
