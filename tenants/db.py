"""Cursors for the statements run on every webhook.

Django's PostgreSQL cursors bind parameters on the client: each statement reaches the
server as text, to be parsed and planned again, with a 13 KB body spelled out in hex.
`prepared_cursor()` binds on the server instead: values travel apart from the text,
and psycopg prepares a statement once it has run `prepare_threshold` times on a
connection (see the database settings). PostgreSQL plans a prepared statement again
when the search path changes, so a connection serving several organisations stays
correct.

The cursor is wrapped like any Django cursor: errors are Django's, and query capture
(`assertNumQueries`, the debug log) still sees every statement, with its placeholders.
"""

from contextlib import contextmanager

from django.db import connection
from django.db.backends.utils import CursorDebugWrapper


class _DebugWrapper(CursorDebugWrapper):
    def debug_sql(self, sql=None, params=None, use_last_executed_query=False, many=False):
        # Django reads a statement back from client-side binding only.
        return super().debug_sql(sql, params, use_last_executed_query=False, many=many)


@contextmanager
def prepared_cursor():
    def wrap(raw):
        if connection.queries_logged:
            return _DebugWrapper(raw, connection)
        return connection.make_cursor(raw)

    # Not closed after use: the connection keeps it (see `server_binding_cursor`).
    yield connection.server_binding_cursor(wrap)
