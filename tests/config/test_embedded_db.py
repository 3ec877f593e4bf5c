"""The embedded database's helpers: handles of dead processes, and its socket as a URL."""

import contextlib
import os
import subprocess
import sys

from config import embedded_db
from config.settings.database import _from_url


class _Handles:
    def __init__(self, pids):
        self.pids = pids

    def get(self):
        return list(self.pids)

    def put(self, pids):
        self.pids = list(pids)


class _FakeServer:
    _lock = contextlib.nullcontext()

    def __init__(self, pids=(), uri="postgresql://postgres:@/postgres?host=/tmp/pg socket"):
        self.global_process_id_list = _Handles(pids)
        self.uri = uri

    def get_uri(self):
        return self.uri


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_handles_of_dead_processes_are_forgotten_and_live_ones_kept():
    dead = _dead_pid()
    server = _FakeServer(pids=[os.getpid(), dead])

    embedded_db._forget_dead_handles(server)

    assert server.global_process_id_list.pids == [os.getpid()]


def test_children_get_the_socket_as_a_database_url_that_the_settings_read_back(monkeypatch):
    monkeypatch.setattr(embedded_db, "_server", _FakeServer())

    url = embedded_db.embedded_database_url()

    assert url == "postgresql://postgres@/analytics?host=/tmp/pg%20socket"
    assert _from_url(url) == {
        "NAME": "analytics",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": "/tmp/pg socket",
        "PORT": "",
    }


def test_without_an_embedded_server_there_is_no_url_and_nothing_to_stop(monkeypatch):
    monkeypatch.setattr(embedded_db, "_server", None)

    assert embedded_db.embedded_database_url() is None
    assert embedded_db.stop_embedded_database() is None
