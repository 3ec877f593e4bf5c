"""django-tenants' backend, with two round trips fewer per request.

- **Search path.** django-tenants forgets the connection's search path at every
  `set_tenant()`, so each request paid a `SET` even when the persistent connection was
  already on that organisation's schema (the request middleware passes through public
  first). Here the path last set on the wire is remembered until something could have
  undone it: a rollback (a `SET` is transactional), a savepoint rollback, or closing.
- **Health check.** With `CONN_HEALTH_CHECKS`, Django runs `SELECT 1` before each
  request's first query. A server that restarts, or ends the session, sends its notice
  and closes the socket, so an idle connection's socket that has nothing to read is
  sound; only when it has something is the `SELECT 1` run (and fails).
"""

import select

import psycopg
from django_tenants.postgresql_backend import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        self._search_path_on_wire = None
        self._server_binding_cursor = None
        super().__init__(*args, **kwargs)

    def _handle_search_path(self, cursor=None):
        if (
            self.search_path_set_schemas is None
            and self._search_path_on_wire is not None
            and not self._setting_search_path
            and self.schema_name
            and self._search_path_on_wire == self._get_cursor_search_paths()
        ):
            self.search_path_set_schemas = self._search_path_on_wire
            return
        super()._handle_search_path(cursor)
        self._search_path_on_wire = self.search_path_set_schemas

    def server_binding_cursor(self, wrap):
        """The connection's psycopg cursor that binds on the server, wrapped by `wrap`
        and readied as Django readies its own cursors: health check, connection, this
        organisation's search path (set on it only when the wire has another). The
        caller leaves it open."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        self.validate_thread_sharing()
        raw = self._server_binding_cursor
        if raw is None or raw.closed or raw.connection is not self.connection:
            # One per connection, kept open: psycopg remembers on a cursor how it
            # sent the parameters of the text it ran last.
            with self.wrap_database_errors:
                raw = self._server_binding_cursor = psycopg.Cursor(self.connection)
        cursor = wrap(raw)
        self._handle_search_path(cursor)
        return cursor

    def close(self):
        self._search_path_on_wire = None
        self._server_binding_cursor = None
        super().close()

    # Forgotten after the rollback, not before: getting the cursor that sends it sets
    # the path (and would remember it) before the rollback undoes that `SET`.
    def rollback(self):
        try:
            super().rollback()
        finally:
            self._search_path_on_wire = None

    def savepoint_rollback(self, sid):
        try:
            super().savepoint_rollback(sid)
        finally:
            self._search_path_on_wire = None

    def is_usable(self):
        if self.connection is None or self.connection.closed:
            return False
        try:
            poller = select.poll()
            poller.register(self.connection.fileno(), select.POLLIN)
            quiet = not poller.poll(0)
        except (OSError, ValueError):
            return False
        return quiet or super().is_usable()
