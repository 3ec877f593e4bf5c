"""The embedded PostgreSQL used when `DATABASE_URL` is unset.

Ownership: a process that reads the settings without `DATABASE_URL` takes a handle on
the server under `DATA_DIR/postgres`; the server starts with the first handle and
stops when the last process holding one exits cleanly (pgserver's `stop` mode). That
covers one-off commands and the test suite.

`make run` is the one owner of a longer session: its supervising process holds the
only handle, hands the web server and the worker the server's socket as
`DATABASE_URL` (so they never take handles of their own), and stops the server
itself once they have exited (`stop_embedded_database`).
"""

import platform
import sys
import warnings
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

DATABASE_NAME = "analytics"
_server = None


class EmbeddedDatabaseUnavailable(RuntimeError):
    pass


def _has_embedded_build() -> bool:
    machine = platform.machine().lower()
    if sys.platform == "linux":
        return machine in ("x86_64", "amd64")
    return sys.platform in ("darwin", "win32")


def _forget_dead_handles(server) -> None:
    """Drop handles of processes that died without clean-up (SIGKILL, a default SIGTERM).

    pgserver 0.1.4 keeps handle pids in a file and stops the server only when the last
    one exits; a dead pid left there would keep the server running for ever.
    """
    import psutil

    with server._lock:
        handles = server.global_process_id_list
        pids = handles.get()
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.put(alive)


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
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and
            # falls back to /tmp, which is what pgserver needs anyway.
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError as exc:  # pragma: no cover - depends on the platform's wheels
        raise EmbeddedDatabaseUnavailable(
            "The embedded PostgreSQL (pgserver) is not installed for this platform. "
            "Set DATABASE_URL to a PostgreSQL server."
        ) from exc
    pgdata.mkdir(parents=True, exist_ok=True)
    _server = pgserver.get_server(pgdata, cleanup_mode="stop")
    _forget_dead_handles(_server)
    return _server


def _socket_dir(server) -> str:
    return parse_qs(urlsplit(server.get_uri()).query).get("host", [""])[0]


def embedded_database_settings(data_dir: Path) -> dict:
    server = _start(data_dir / "postgres")
    uri = urlsplit(server.get_uri())
    existing = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608 - a constant
    if "(1 row)" not in existing:
        server.psql(f'CREATE DATABASE "{DATABASE_NAME}";')
    return {
        "NAME": DATABASE_NAME,
        "USER": uri.username or "postgres",
        "PASSWORD": "",
        "HOST": _socket_dir(server),
        "PORT": "",
    }


def embedded_database_url() -> str | None:
    """The running embedded server as a `DATABASE_URL`, for child processes; else None."""
    if _server is None:
        return None
    user = urlsplit(_server.get_uri()).username or "postgres"
    return f"postgresql://{user}@/{DATABASE_NAME}?host={quote(_socket_dir(_server))}"


def stop_embedded_database() -> None:
    """Stop the embedded server this process started, whoever else still holds handles."""
    global _server
    if _server is None:
        return
    from pgserver import pg_ctl

    server, _server = _server, None
    with server._lock:
        server.global_process_id_list.put([])
        pg_ctl(["-w", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=30)
