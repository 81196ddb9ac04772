"""Destilation provider backed by any program that speaks JSON lines on stdin and stdout (see PROTOCOL.md)."""
