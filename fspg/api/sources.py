"""Where data comes from: SQL-defined views, source databases, CDC."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from fspg import models
from fspg.api.base import StoreBase
from fspg.results import MaterializeStep, WindowResult
from fspg.statements import Q
from fspg.times import utc

if TYPE_CHECKING:

    from fspg.sources import RemovedSource


class SourceMethods(StoreBase):
    """Where data comes from: SQL-defined views, source databases, CDC."""

    def materialize(self, name: str, start: Any = None, end: Any = None, *, chunk: Any = None,
                    on_window: Callable[[WindowResult], None] | None = None) -> list[MaterializeStep]:
        """Bring ``name`` (view or view@N) up to date from where its data comes from.

        A SQL-defined view (``source:`` in its definition) runs its source query for event
        times in [start, end) — default: from its high-water mark (or ``source.start``) to
        now — and appends the rows through the validated write path; rows history already
        has unchanged are skipped, so a window can be re-run. ``chunk`` (a timedelta or
        ``"1 day"``) splits a long backfill into windows of that size, one transaction
        each: interrupted, the finished windows stay and ``materialize(name)`` resumes.
        One ``WindowResult`` per window (rows_in = unchanged + inserted + quarantined).

        A view without a source has its online table rebuilt from history instead
        (``rebuild_online``).
        """
        from fspg import sources

        with self.connection() as conn:
            if not sources.has_source(conn, name):
                return [self.rebuild_online(name)]
        return list(sources.materialize(self.connection, name, utc(start), utc(end),
                                        sources.as_interval(chunk), on_window))

    def run_due_sources(self) -> list[dict[str, Any]]:
        """Materialize the next window of every SQL-defined view whose refresh is due."""
        from fspg import sources

        with self.connection() as conn:
            return sources.run_due(conn)

    def add_source(self, name: str, dsn: str, tables: list[str], *, schema: str = "public") -> dict[str, Any]:
        """Register another PostgreSQL database as source ``name``: ``tables`` of its
        ``schema`` appear locally as ``src_<name>.<table>`` (postgres_fdw), for source queries."""
        from fspg import sources

        with self.connection() as conn:
            return sources.add_database(conn, name, dsn, tables, schema)

    def add_cdc_source(self, name: str, dsn: str, table: str, view: str, *, event_time: str | None = None) -> str:
        """Capture changes of ``table`` (schema.table) in the database at ``dsn`` into feature
        view ``view`` by logical replication: inserts and updates become events (event time
        from column ``event_time``, else when applied), deletes tombstones. Returns the
        subscription's name. The source needs wal_level = logical and a primary key (or
        REPLICA IDENTITY FULL) on the table."""
        from fspg import cdc

        return cdc.add(self.dsn, name, dsn, table, view, event_time)

    def cdc_status(self) -> list[dict[str, Any]]:
        """Per CDC source: subscription enabled, error counts, lag in bytes on the source."""
        from fspg import cdc

        return cdc.status(self.dsn)

    def sources(self) -> list[dict[str, Any]]:
        """Registered source databases (foreign servers and CDC sources)."""
        with self.connection() as conn:
            return models.rows(conn, Q.source_databases, {})

    def source_views(self) -> list[dict[str, Any]]:
        """SQL-defined views: refresh, start, high-water mark, last run and error, runs, rows inserted."""
        with self.connection() as conn:
            return models.rows(conn, Q.source_status, {})

    def remove_source(self, name: str) -> "RemovedSource":
        """Drop source ``name``: a foreign server with its imported tables, or a CDC source's
        subscription, its replication slot and publication on the source, and its mirror
        table. A CDC source that did not answer keeps its slot there: the result names it
        (``slot_left_on_source``) for its DBA to drop."""
        from fspg import cdc
        from fspg.sources import RemovedSource

        with self.connection() as conn:
            found = conn.execute(Q.source_kind, {"name": name}).fetchone()
            if found is None or found[0] == "fdw":
                conn.execute(Q.remove_source_database, {"name": name})
                return RemovedSource(name, None)
        return RemovedSource(name, None if cdc.remove(self.dsn, name) else found[1])
