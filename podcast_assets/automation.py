"""When derived assets rematerialize by themselves.

``AutomationCondition.eager()`` only looks at the latest time window and waits for every
upstream partition to exist; ours must react to a restated *old* day or late events in a
past month, and a month with a missing delivery still deserves a preliminary estimate.
So: a partition is requested when any partition it depends on was updated since it was
last requested or materialized, once nothing upstream of it (and nothing of its own) is
still running. A partition whose run failed is requested once more (see below).

Also here, what keeps that going when runs fail or get lost: the tags of the runs the
daemon launches, and the retries of gold and serving steps.
"""

import dagster as dg

# A run the daemon launched and lost (`dagster dev` killed hard, the machine rebooted) stays
# STARTED for good, so Dagster counts its partitions as in progress for ever and nothing
# requests them again. Run monitoring (on in dagster_home/dagster.yaml) fails a run carrying
# this tag once it has run this long; the drop sensors then request its work again, and
# automation its partitions (ON_CHANGE_OR_FAILURE). An hour is far beyond any sensor's or
# automation's run here (a 1M-row day takes seconds).
DAEMON_RUN_TAGS = {"dagster/max_runtime": "3600"}

# Gold and serving steps that fail for a passing reason (a full disk, a commit that kept
# conflicting) are tried again in the same run, 2 s and then 6 s later: otherwise the month
# would wait for its next upstream change, which for a closed month may never come.
# (Ingestion is retried by its sensors, which know a quarantined file is done.)
RETRY_PASSING_FAULTS = dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL)

# `execution_failed().newly_true()` holds on the first evaluation after a run of the
# partition failed (its step retries spent, or lost and failed by run monitoring): one more
# request, not one per tick, as a failed retry leaves it true rather than newly true.
ON_CHANGE_OR_FAILURE = (
    (dg.AutomationCondition.any_deps_updated().since_last_handled()
     | dg.AutomationCondition.execution_failed().newly_true())
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("upstream changed, or the last run failed")

automation_sensor = dg.AutomationConditionSensorDefinition(
    "gold_automation",
    target=dg.AssetSelection.groups("gold", "serving"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    run_tags=DAEMON_RUN_TAGS,
    description="Rematerializes gold partitions (and the serving store) whose silver inputs changed, "
    "or whose last run failed (once).",
)
