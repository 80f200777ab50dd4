"""Retrieval with access control, and LlamaIndex interfaces over it."""
