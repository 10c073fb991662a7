"""Helpers of the pairofcleats benchmark suite (corpora, processes, baselines, eval)."""
