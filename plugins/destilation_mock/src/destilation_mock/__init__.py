"""A deterministic offline provider for Destilation, for demos, tests and benchmarks.

Answers are a pure function of the seed, the prompt and the attempt number, so a run is
reproducible; configurable rates of failures, garbage and truncated answers exercise the
engine's retry and validation paths without a network.
"""
