"""JSONL dataset sink: the store's accepted samples as one JSON line each, plus metadata and a dataset card."""
