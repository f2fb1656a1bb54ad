"""Synthetic city data for demos, tests and benchmarks (``chanye synth``)."""
