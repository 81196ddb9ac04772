"""Test helpers for Destilation and its plugins."""
