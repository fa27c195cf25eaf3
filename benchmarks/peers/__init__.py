"""Peers the benchmarks compare with that cannot share polymix's environment."""
