"""Knowhere's core library: read, chunk, embed, store, search and answer over company knowledge."""
