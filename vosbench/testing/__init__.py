"""Helpers for tests and benchmarks (not needed to train or test models)."""
