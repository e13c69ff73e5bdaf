"""Bronze: every provider's rows as delivered, typed and validated, with their lineage
(source file, row, delivery id, ingest time). One asset per provider, generated from its
spec and partitioned by its cadence (materialized by the provider's feed step with its
silver slice, ``assets/feeds.py``); plus the registry of instant-event segments and the
providers' show directories.
"""


import dagster as dg
import polars as pl

from podcast_assets.assets.keys import SHOW_DIRECTORY, bronze_key, segments_key
from podcast_assets.ingest import Outcome, bronze_table, ingest_show_directories, register_segments
from podcast_assets.metadata import markdown_preview, table_metadata
from podcast_assets.providers.specs import PROVIDERS, ProviderSpec
from podcast_assets.resources import LakehouseResource
from podcast_assets.settings import Settings

LAKEHOUSE_POOL = "lakehouse"  # writers of the shared Delta tables; give it a limit to serialise them (see README)


def fail_if_rejected(out: Outcome) -> None:
    """Rejected files were quarantined and their periods kept their last good data; the
    run still fails so the rejection is visible in Dagster, naming file, line and rule."""
    if out.failures:
        raise dg.Failure(
            description="; ".join(str(err) for err in out.failures),
            metadata={"quarantined": [err.reason() for err in out.failures]},
        )


def bronze_spec(spec: ProviderSpec) -> dg.AssetSpec:
    """``bronze/<provider>``, written by the provider's feed step (``assets/feeds.py``)."""
    return dg.AssetSpec(
        key=bronze_key(spec),
        deps=[segments_key(spec)] if spec.cadence == "instant" else [],
        group_name="bronze",
        kinds={"polars", "deltalake"},
        description=(
            f"{spec.name}'s listen events (one row per listen) from every sealed segment, by the UTC day they "
            "happened, each event_id once (delivery is at least once; a late event re-runs its day), typed and "
            f"validated, with its source segment, line and delivery id. Table: delta/bronze/{spec.name}."
            if spec.cadence == "instant" else
            f"{spec.name}'s {spec.grain}-grain listens exactly as delivered ({spec.cadence}, {spec.format}), "
            f"typed and validated, one row per delivered row with its source file, row and delivery id. "
            f"A redelivered {spec.period_grain} replaces the earlier delivery. Table: delta/bronze/{spec.name}."
        ),
    )


def bronze_metadata(out: Outcome, settings: Settings, spec: ProviderSpec, context: dg.AssetExecutionContext) -> dict:
    listens = out.rows.get_column("listens").sum() if out.rows.height else 0
    return table_metadata(
        out.rows, bronze_table(settings, spec), context, listens=int(listens), periods_written=len(out.periods),
        **out.notes,
    )


def build_segments_asset(spec: ProviderSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=segments_key(spec),
        group_name="bronze",
        pool=LAKEHOUSE_POOL,
        kinds={"polars", "deltalake"},
        description=(
            f"The registry of {spec.name}'s sealed event segments (landing/{spec.name}/{spec.subdir}/*.ndjson): "
            "each new segment archived, validated and indexed by the days its events fall on, in the "
            "delivery ledger (delta/bronze/deliveries). Day partitions of the bronze feed read it."
        ),
    )
    def _segments(context: dg.AssetExecutionContext, lakehouse: LakehouseResource) -> dg.MaterializeResult:
        out = register_segments(lakehouse.settings, spec, context.log)
        fail_if_rejected(out)
        events = int(out.rows.get_column("rows").sum()) if out.rows.height else 0
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": events,  # events in the segments registered by this run
                "segments_registered": out.notes["segments"],
                "events_per_day": dg.MetadataValue.md(markdown_preview(out.rows, rows=len(out.periods))),
                "days_touched": [d.isoformat() for d in out.periods],
            }
        )

    return _segments


@dg.asset(
    key=SHOW_DIRECTORY,
    group_name="bronze",
    pool=LAKEHOUSE_POOL,
    kinds={"polars", "deltalake"},
    description=(
        "Provider show directories (landing/<provider>/shows.csv, full snapshots): which feed URL each "
        "provider-specific show_id belongs to. Table: delta/bronze/show_directory."
    ),
)
def show_directory(context: dg.AssetExecutionContext, lakehouse: LakehouseResource) -> dg.MaterializeResult:
    settings = lakehouse.settings
    out = ingest_show_directories(settings, [s for s in PROVIDERS if s.has_show_directory], context.log)
    fail_if_rejected(out)
    by_provider = out.rows.group_by("provider").agg(pl.len()).sort("provider").rows()
    return dg.MaterializeResult(
        metadata=table_metadata(out.rows, settings.delta("bronze", "show_directory"), shows_per_provider=str(dict(by_provider)))
    )


bronze_assets = [*(build_segments_asset(spec) for spec in PROVIDERS if spec.cadence == "instant"), show_directory]
