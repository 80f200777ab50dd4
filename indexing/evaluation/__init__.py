"""Retrieval quality: BEIR datasets, ranking metrics, scored runs."""
