"""The engine: planning, the attempt loop, batched state writes, export and the run loop."""
