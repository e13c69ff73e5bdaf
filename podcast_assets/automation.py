"""When derived assets rematerialize by themselves.

``AutomationCondition.eager()`` only looks at the latest time window and waits for every
upstream partition to exist; ours must react to a restated *old* day or late events in a
past month, and a month with a missing delivery still deserves a preliminary estimate.
So: a partition is requested when any partition it depends on was updated since it was
last requested or materialized, once nothing upstream of it (and nothing of its own) is
still running.
"""

import dagster as dg

ON_UPSTREAM_CHANGE = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("upstream changed")

automation_sensor = dg.AutomationConditionSensorDefinition(
    "gold_automation",
    target=dg.AssetSelection.groups("gold", "serving"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Rematerializes gold partitions (and the serving store) whose silver inputs changed.",
)
