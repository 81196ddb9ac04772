"""A store URL's password reaches no file, row, event or message, whatever `destiler` does with it.

The test PostgreSQL server trusts local connections, so it accepts a URL with any password: the
job runs for real with a password-bearing URL, in a schema of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

PASSWORD = "hunter2-5f0d3c9a71be"
"""Unusual enough to appear nowhere by chance; fixed, so parallel test workers collect the same tests."""

pytestmark = pytest.mark.postgres


@pytest.fixture
def schema_url() -> Iterator[tuple[str, Callable[[], list[str]]]]:
    """A URL that carries PASSWORD to a fresh schema, and a function that reads all its rows as text."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = os.environ.get("DESTILATION_TEST_DATABASE_URL")
    if not base:
        pytest.skip("DESTILATION_TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    url = make_url(base).set(drivername="postgresql+psycopg")
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')

    def rows() -> list[str]:
        with admin.begin() as conn:
            tables = conn.exec_driver_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
            ).all()
            query = 'SELECT row_to_json(t)::text FROM "{}"."{}" t'
            return [r[0] for (table,) in tables for r in conn.exec_driver_sql(query.format(schema, table))]

    try:
        keyed = url.set(password=PASSWORD).update_query_dict({"options": f"-csearch_path={schema}"})
        yield keyed.render_as_string(hide_password=False), rows
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def test_a_password_in_the_store_url_is_stored_and_shown_nowhere(destiler, write_job, schema_url) -> None:
    url, rows = schema_url
    assert PASSWORD in url
    job = write_job("pw", count=8)
    commands = [
        (("run", str(job)), 0),
        (("show", "pw", "--json"), 0),
        (("jobs",), 0),
        (("tasks", "pw"), 0),
        (("resume", "pw"), 0),  # already done: checks the dataset against the store
        (("resume", "nosuch"), 2),  # an unknown job: the message names the store
    ]
    for args, code in commands:
        result = destiler("--db", url, *args)
        assert result.returncode == code, (args, result.stderr)
        assert PASSWORD not in result.stdout + result.stderr, args
    assert "postgresql+psycopg://postgres:***@127.0.0.1" in result.stderr
    stored = rows()
    assert any('"events"' in r or '"kind"' in r for r in stored), "no event rows to search"
    assert [r for r in stored if PASSWORD in r] == []
    for path in destiler.data_dir.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{PASSWORD}@127.0.0.1:1/test",  # nothing listens: the driver's message
        f"postgresql://u:{PASSWORD}@127.0.0.1:5432/test?sslmode=bogus",
        f"postgresql://u@127.0.0.1:1/test?password={PASSWORD}",
        f"postgresql://u:{PASSWORD}@[::1/test",  # not a URL SQLAlchemy can parse
        f"//u:{PASSWORD}@127.0.0.1/test",  # no scheme at all
    ],
)
def test_a_refused_store_url_is_named_without_its_password(destiler, url) -> None:
    result = destiler("--db", url, "jobs")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: ")
    assert PASSWORD not in result.stderr + result.stdout
    assert "***" in result.stderr
