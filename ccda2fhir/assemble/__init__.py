"""Assemble: deterministic ids, one resource per real-world thing, the batch Bundle."""
