"""Which store URLs name an in-memory database, which only the process that opens it sees."""

from __future__ import annotations

import pytest

from destilation.app import is_memory_store


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "SQLite+pysqlite://?cache=shared"])
def test_in_memory_urls(url: str) -> None:
    assert is_memory_store(url)


@pytest.mark.parametrize("url", ["sqlite:///data/x.db", "sqlite:////abs/x.db", "postgresql://h/db", "memory"])
def test_urls_every_process_can_open(url: str) -> None:
    assert not is_memory_store(url)
