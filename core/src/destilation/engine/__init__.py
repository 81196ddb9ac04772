"""The engine: planning, the attempt loop, batched state writes, export and the run loop."""

ALREADY_DONE = "already done"
"""The outcome message of a run asked for a job that was already complete."""
