"""Where bytes live: Delta tables, the immutable archive, quarantine and the delivery ledger."""
