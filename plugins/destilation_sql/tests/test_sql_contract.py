"""The SQL store passes the same StateStore contract as the testing kit's memory store."""

from __future__ import annotations

from pathlib import Path

import pytest

from destilation.testing import StoreContract
from destilation_sql.store import SqlStore


class TestSqliteContract(StoreContract):
    def make_store(self, tmp_path: Path) -> SqlStore:
        return SqlStore(f"sqlite:///{tmp_path / 'contract.db'}")


@pytest.mark.postgres
class TestPostgresContract(StoreContract):
    single_runner = False  # many workers share a job on PostgreSQL

    @pytest.fixture(autouse=True)
    def _schema(self, pg_url: str) -> None:
        self.url = pg_url

    def make_store(self, tmp_path: Path) -> SqlStore:
        return SqlStore(self.url)
