"""Embedding models: provisioning, precision, the sentence-transformers embedder."""
