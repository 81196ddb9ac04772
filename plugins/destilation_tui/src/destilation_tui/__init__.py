"""`destiler tui`: a terminal dashboard that watches and steers every job through the state store."""
