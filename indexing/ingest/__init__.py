"""Ingestion: document identity and fingerprints, chunking, the indexer."""
