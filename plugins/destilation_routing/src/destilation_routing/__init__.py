"""Provider-selection strategies for Destilation: round-robin, weighted random, capability-based.

The engine asks a router on every attempt, so each strategy is O(n) over a handful of
candidates and allocates next to nothing.
"""
