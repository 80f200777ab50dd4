"""Source syncs: runs, batches, the per-source lock, export staging."""
