"""Destilation's validators: truncation and corruption, safe JSON plus schema, rules, exact dedup."""
