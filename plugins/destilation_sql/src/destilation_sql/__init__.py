"""State store on SQLAlchemy Core: SQLite by default, PostgreSQL by URL.

The store is the truth of a run: tasks, attempts, samples in commit order, sink cursors and
events. Import `destilation_sql.store.SqlStore` to use it directly; the plugin registers it for
the ``sqlite`` and ``postgresql`` URL schemes. This module stays light on purpose: the entry
point imports it on every ``destiler`` start.
"""
