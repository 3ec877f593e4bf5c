"""The embedded PostgreSQL used when `DATABASE_URL` is unset.

Ownership: every process that reads the settings without `DATABASE_URL` takes a
handle on the server under `DATA_DIR/postgres`; the server starts with the first
handle and stops when the last process holding one exits (pgserver's `stop` mode).
`make run` keeps the first handle in its supervising process for the whole session,
so the web server and the worker never outlive it or race to stop it.
"""

import platform
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DATABASE_NAME = "analytics"
_server = None


class EmbeddedDatabaseUnavailable(RuntimeError):
    pass


def _has_embedded_build() -> bool:
    machine = platform.machine().lower()
    if sys.platform == "linux":
        return machine in ("x86_64", "amd64")
    return sys.platform in ("darwin", "win32")


def _start(pgdata: Path):
    global _server
    if _server is not None:
        return _server
    if not _has_embedded_build():
        raise EmbeddedDatabaseUnavailable(
            "No embedded PostgreSQL build exists for this platform "
            f"({sys.platform}/{platform.machine()}). Set DATABASE_URL to a PostgreSQL "
            "server, e.g. DATABASE_URL=postgres://user:password@127.0.0.1:5432/analytics"
        )
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - depends on the platform's wheels
        raise EmbeddedDatabaseUnavailable(
            "The embedded PostgreSQL (pgserver) is not installed for this platform. "
            "Set DATABASE_URL to a PostgreSQL server."
        ) from exc
    pgdata.mkdir(parents=True, exist_ok=True)
    _server = pgserver.get_server(pgdata, cleanup_mode="stop")
    return _server


def embedded_database_settings(data_dir: Path) -> dict:
    server = _start(data_dir / "postgres")
    uri = urlsplit(server.get_uri())
    socket_dir = parse_qs(uri.query).get("host", [None])[0]
    existing = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608 - a constant
    if "(1 row)" not in existing:
        server.psql(f'CREATE DATABASE "{DATABASE_NAME}";')
    return {
        "NAME": DATABASE_NAME,
        "USER": uri.username or "postgres",
        "PASSWORD": "",
        "HOST": socket_dir,
        "PORT": "",
    }
