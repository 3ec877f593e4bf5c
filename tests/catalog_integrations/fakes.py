"""A fake Mixpanel on loopback: records what it is sent and answers as told."""

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Ports these tests may serve on (loopback only).
PORT_RANGE = range(18200, 18300)


@dataclass
class FakeReceiver:
    url: str = ""
    status: int = 200
    body: dict = field(default_factory=lambda: {"code": 200, "status": "OK"})
    requests: list[dict] = field(default_factory=list)


def _free_port() -> int:
    for port in PORT_RANGE:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("No free port in 18200-18299.")


@contextmanager
def fake_receiver() -> Iterator[FakeReceiver]:
    receiver = FakeReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            receiver.requests.append(
                {
                    "path": self.path,
                    "authorization": self.headers.get("Authorization", ""),
                    "body": self.rfile.read(length),
                }
            )
            payload = json.dumps(receiver.body).encode()
            self.send_response(receiver.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
