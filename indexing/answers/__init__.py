"""Answers: retrieval with access control, generation with citations, the answer log."""
