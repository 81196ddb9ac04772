"""Store URLs: parse, check the dialect and driver, and mask their credentials for messages."""

from __future__ import annotations

from pathlib import Path

import attrs
from sqlalchemy.engine import URL, make_url

from destilation import StoreError, is_secret_key, redact_url

# Drivers this distribution is built and tested with; bare schemes map to them.
DRIVERS = {"sqlite": "sqlite+pysqlite", "postgresql": "postgresql+psycopg"}


def mask(raw: str) -> str:
    """The URL with its password and secret query values (``?password=…``) replaced by ``***``."""
    return redact_url(raw)


@attrs.frozen
class StoreUrl:
    """A checked store URL: what to connect to and how to name it in messages."""

    raw: str = attrs.field(repr=False)
    shown: str
    """The URL with its password masked: the only form that appears in messages."""
    url: URL = attrs.field(repr=False)
    dialect: str
    path: Path | None
    """The SQLite database file, or None for PostgreSQL and in-memory SQLite."""

    @property
    def secrets(self) -> list[str]:
        """The password and secret query values, for scrubbing a driver's message that echoes them."""
        found = [self.url.password] if isinstance(self.url.password, str) else []
        for key, value in self.url.query.items():
            if is_secret_key(key):
                found.extend([value] if isinstance(value, str) else value)
        return [s for s in found if s]

    @property
    def memory(self) -> bool:
        return self.dialect == "sqlite" and self.path is None


def parse(raw: str) -> StoreUrl:
    """Check `raw` and map it to a supported driver; StoreError names the URL and the fault."""
    shown = mask(raw)
    try:
        url = make_url(raw)
    except Exception as exc:  # SQLAlchemy raises ArgumentError or ValueError for bad URLs
        raise StoreError(f"{shown}: not a valid store URL ({exc}); use sqlite:///PATH or postgresql://…") from None
    backend = url.get_backend_name()
    if backend not in DRIVERS:
        raise StoreError(f"{shown}: unsupported database {backend!r}; use sqlite:///PATH or postgresql://…")
    wanted = DRIVERS[backend]
    if "+" in url.drivername and url.drivername != wanted:
        raise StoreError(f"{shown}: unsupported driver {url.get_driver_name()!r}; use {wanted}://…")
    url = url.set(drivername=wanted)
    path: Path | None = None
    if backend == "sqlite":
        if url.host or url.username or url.port:
            raise StoreError(f"{shown}: a SQLite URL has no host; use sqlite:///relative.db or sqlite:////absolute.db")
        if url.database and url.database != ":memory:":
            path = Path(url.database).expanduser().absolute()
            url = url.set(database=str(path))
    elif not url.database:
        raise StoreError(f"{shown}: no database name; use postgresql://USER@HOST/DATABASE")
    return StoreUrl(raw, shown, url, backend, path)
