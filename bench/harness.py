"""What every bench and fault run stands on: servers it starts itself, on loopback only.

- `Postgres`: a PostgreSQL of the run's own (pgserver's bundled binaries, so a fresh
  clone needs nothing installed), on a TCP port of 127.0.0.1, in a temporary folder,
  restartable, removed at the end.
- `RedisServer`: a `redis-server` of the run's own, without persistence.
- `Service`: a product process (gunicorn, `manage.py qcluster`) in its own process
  group, with its output in a log file; stopped, killed or restarted on demand.
- `PeakRss`: samples the resident memory of process trees while a run goes on.
- `product_env` / `django_setup`: the environment product processes get, and the same
  settings in the driving process (which provisions organisations through the services
  and counts rows).

Nothing here talks to any address but 127.0.0.1.
"""

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
# The product's packages, for the driving process (which imports some of them).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
LOOPBACK = "127.0.0.1"

# Everything a run leaves behind (logs, data folders) until it ends.
WORK_PREFIX = "bench-"


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the results."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return True
        time.sleep(interval)
    return False


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((LOOPBACK, port)) == 0


def require_free(port: int) -> None:
    if port_open(port):
        raise SystemExit(f"Port {port} on {LOOPBACK} is in use: stop what holds it first.")


class Workspace:
    """A temporary folder for one run's data and logs, removed at the end (unless kept)."""

    def __init__(self, keep: bool = False, path: Path | None = None):
        """A new folder; or, given `path`, the folder of a parent run (kept by it)."""
        self.path = path or Path(tempfile.mkdtemp(prefix=WORK_PREFIX))
        self.path.chmod(0o755)
        self.keep = keep or path is not None

    def logfile(self, name: str) -> Path:
        return self.path / f"{name}.log"

    def remove(self) -> None:
        if self.keep:
            log(f"kept {self.path}")
        else:
            shutil.rmtree(self.path, ignore_errors=True)


class Postgres:
    """PostgreSQL on 127.0.0.1:`port`, data under the workspace. Runs as an unprivileged
    user when started by root (PostgreSQL refuses root), as pgserver does."""

    def __init__(self, workspace: Workspace, port: int):
        from pgserver._commands import POSTGRES_BIN_PATH

        self.bin = POSTGRES_BIN_PATH
        self.port = port
        self.pgdata = workspace.path / "pgdata"
        self.logpath = workspace.logfile("postgres")
        self.user = None
        if os.geteuid() == 0:
            from pgserver.utils import ensure_folder_permissions, ensure_user_exists

            self.user = "pgserver"
            ensure_user_exists(self.user)
            # The bundled binaries must be readable by that user (pgserver does the same).
            ensure_folder_permissions(self.bin, 0o055)
            ensure_folder_permissions(self.bin.parent / "lib", 0o044)

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        subprocess.run(  # noqa: S603 - the bundled PostgreSQL tools, fixed arguments
            [str(self.bin / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=self.user,
            timeout=timeout,
        )

    def start(self) -> "Postgres":
        require_free(self.port)
        if not (self.pgdata / "PG_VERSION").exists():
            self.pgdata.mkdir(mode=0o700)
            self.logpath.touch()
            if self.user:
                entry = pwd.getpwnam(self.user)
                os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
                os.chown(self.logpath, entry.pw_uid, entry.pw_gid)
            self._run(
                "initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "-E", "utf8"
            )
        self._ctl("start")
        return self

    def _ctl(self, action: str, mode: str = "fast") -> None:
        options = (
            f"-c listen_addresses={LOOPBACK} -p {self.port} -k '' "
            "-c max_connections=300 -c shared_buffers=256MB"
        )
        args = ["-D", str(self.pgdata), "-w", "-t", "60", "-m", mode]
        if action in ("start", "restart"):
            args += ["-l", str(self.logpath), "-o", options]
        self._run("pg_ctl", *args, action, timeout=90)

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._ctl("stop", mode)

    def restart(self, mode: str = "fast") -> None:
        self._ctl("restart", mode)

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@{LOOPBACK}:{self.port}/{dbname}"

    def pid(self) -> int:
        """The postmaster's pid (its backends are its children)."""
        return int((self.pgdata / "postmaster.pid").read_text().split()[0])

    def sql(self, statement: str, dbname: str = "postgres"):
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else None

    def create_database(self, name: str) -> str:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def version(self) -> str:
        return self.sql("SHOW server_version")[0][0]


class RedisServer:
    """redis-server on 127.0.0.1:`port`, nothing saved to disk: a restart loses the queue."""

    def __init__(self, workspace: Workspace, port: int):
        self.port = port
        self.logpath = workspace.logfile(f"redis-{port}")
        self.dir = workspace.path
        self.process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed (apt-get install redis-server).")
        require_free(self.port)
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                LOOPBACK,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--logfile",
                str(self.logpath),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if not wait_until(lambda: port_open(self.port), timeout=10):
            raise SystemExit(f"redis-server did not start; see {self.logpath}")
        return self

    def stop(self) -> None:
        if self.process is None:
            # Started by another process of the run: ask the server itself.
            import redis

            with contextlib.suppress(redis.RedisError):
                redis.Redis(host=LOOPBACK, port=self.port).shutdown(nosave=True)
            wait_until(lambda: not port_open(self.port), timeout=10)
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def url(self, db: int = 0) -> str:
        return f"redis://{LOOPBACK}:{self.port}/{db}"


def product_env(
    *,
    database_url: str,
    data_dir: Path,
    redis_url: str | None = None,
    custom_hosts: str = "",
    extra: dict | None = None,
) -> dict:
    """The environment of a product process in a run: production settings, own keys."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE", "TEST_DATABASE_NAME")
    }
    keys_file = data_dir / "bench-keys"
    if not keys_file.exists():
        from cryptography.fernet import Fernet

        keys_file.write_text(f"{secrets.token_urlsafe(50)}\n{Fernet.generate_key().decode()}")
    secret_key, fernet_key = keys_file.read_text().splitlines()
    env.update(
        {
            "ENVIRONMENT": "production",
            "SECRET_KEY": secret_key,
            "FIELD_ENCRYPTION_KEYS": fernet_key,
            "DATABASE_URL": database_url,
            "DATA_DIR": str(data_dir),
            "BASE_URL": "http://localhost",
            "MIXPANEL_CUSTOM_HOSTS": custom_hosts,
            "EMAIL_URL": "console://",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra or {})
    return env


def django_setup(env: dict) -> None:
    """Settings in this (driving) process, identical to the product processes'."""
    import django

    os.environ.update(env)
    if "REDIS_URL" not in env:
        os.environ.pop("REDIS_URL", None)
    django.setup()


def manage(env: dict, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """`manage.py` in a subprocess; raises with its output when it fails."""
    done = subprocess.run(  # noqa: S603 - our own manage.py
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def migrate(env: dict) -> None:
    manage(env, "migrate_schemas", "--shared", "--noinput")
    manage(env, "migrate_schemas", "--noinput")


class Service:
    """A long-running product process in its own session (process group)."""

    def __init__(self, name: str, argv: list[str], env: dict, logpath: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.logpath = logpath
        self.process: subprocess.Popen | None = None

    def start(self) -> "Service":
        handle = self.logpath.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own commands
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM to the main process (what django-q2 and gunicorn expect), then kill."""
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._kill_leftovers()

    def kill(self) -> None:
        """SIGKILL to every process of the group: a machine losing power, for this service."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def _kill_leftovers(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def gunicorn(env: dict, port: int, logpath: Path, *, app: str = "config.wsgi:application"):
    """The web tier as deployed: gunicorn, sync workers, 2 of them."""
    require_free(port)
    argv = [
        PYTHON,
        "-m",
        "gunicorn",
        app,
        "--workers",
        "2",
        "--worker-class",
        "sync",
        "--bind",
        f"{LOOPBACK}:{port}",
        "--backlog",
        "256",
        "--timeout",
        "30",
        "--graceful-timeout",
        "5",
    ]
    service = Service(f"web:{port}", argv, env, logpath).start()
    if not wait_until(lambda: port_open(port), timeout=30):
        raise SystemExit(f"gunicorn did not start; see {logpath}")
    return service


def qcluster(env: dict, logpath: Path, name: str = "worker") -> Service:
    return Service(name, [PYTHON, "manage.py", "qcluster"], env, logpath).start()


class PeakRss:
    """Peak resident memory per process and per tree, sampled every `interval` seconds."""

    def __init__(self, interval: float = 0.25):
        self.interval = interval
        self.roots: dict[str, int] = {}
        self.peak_process: dict[str, int] = {}
        self.peak_total: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def watch(self, label: str, pid: int) -> None:
        self.roots[label] = pid

    def start(self) -> "PeakRss":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            for label, pid in list(self.roots.items()):
                try:
                    root = psutil.Process(pid)
                    tree = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
                sizes = []
                for process in tree:
                    with contextlib.suppress(psutil.Error):
                        sizes.append(process.memory_info().rss)
                if not sizes:
                    continue
                self.peak_process[label] = max(self.peak_process.get(label, 0), max(sizes))
                self.peak_total[label] = max(self.peak_total.get(label, 0), sum(sizes))


def mib(size: int) -> str:
    return f"{size / 1024 / 1024:.0f} MiB"


def machine_line(postgres_version: str, started: float, servers: str) -> str:
    """Date and machine of a run, for its report."""
    import platform

    load1, load5, _ = os.getloadavg()
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}. Machine: {len(os.sched_getaffinity(0))} cores "
        f"(`nproc`), {psutil.virtual_memory().total / 1024**3:.1f} GiB memory; "
        f"`{' '.join(platform.uname())}`; Python {platform.python_version()}; PostgreSQL "
        f"{postgres_version} ({servers}). Load average at the end {load1:.1f} (1 min), "
        f"{load5:.1f} (5 min), from other work on the machine too. "
        f"The run took {(time.monotonic() - started) / 60:.1f} min."
    )
