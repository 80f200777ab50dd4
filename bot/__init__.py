"""Chat adapters (Slack, Teams) over the transport-neutral answer service in `indexing`."""
