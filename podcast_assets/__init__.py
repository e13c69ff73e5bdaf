"""Podcast listens lakehouse: provider feeds -> Delta Lake -> market estimates, on Dagster."""

import warnings

import dagster as dg

# Ranged backfills (BackfillPolicy.single_run) are how we ingest many partitions in one
# run; Dagster still labels the parameter beta. We use it knowingly: keep the UI quiet.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
# Dagster's own evaluate_automation_conditions uses a beta parameter internally.
warnings.filterwarnings("ignore", message="Parameter `include_sources`", category=dg.BetaWarning)
