"""A development stand-in for Mixpanel's `/import`, on loopback only.

`make run` starts it (`python -m catalog_integrations.mixpanel.receiver --port 8001`)
and points the demo organisation's Mixpanel installation at it, so purchases can be
watched arriving without any account anywhere. It answers like Mixpanel's strict
import: gzip or plain JSON arrays, Basic auth required, a 400 naming the
`failed_records` it refused, 413 over 2 MB. It keeps what it accepted in memory and
lists it at `/` (and as JSON at `/events.json`).

Tests start it in a thread on port 0 and may script its answers (`respond`).
"""

import argparse
import base64
import gzip
import html
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_EVENTS = 2000
INSERT_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")
# The page shows the latest events only.
PAGE_EVENTS = 200


@dataclass
class ImportRequest:
    """One request as received (after gunzip), for tests and the page."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    auth: tuple[str, str] | None
    raw_size: int
    body: bytes
    events: list | None


@dataclass
class Reply:
    status: int
    body: dict
    # Seconds to wait before answering (a slow or hung host).
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ReceiverState:
    requests: list[ImportRequest] = field(default_factory=list)
    # Every event accepted, in order, resends included (Mixpanel dedupes by $insert_id).
    accepted: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def insert_ids(self) -> list[str]:
        with self.lock:
            return [e.get("properties", {}).get("$insert_id") for e in self.accepted]


def validate(event) -> tuple[str, str] | None:
    """(field, message) for an event strict import refuses, else None."""
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        return "event", "'event' must be a string"
    props = event.get("properties")
    if not isinstance(props, dict):
        return "properties", "'properties' must be an object"
    if not isinstance(props.get("time"), int):
        return "properties.time", "'properties.time' is invalid: must be a number"
    if not isinstance(props.get("distinct_id"), str):
        return "properties.distinct_id", "'properties.distinct_id' must be a string"
    if not isinstance(props.get("$insert_id"), str) or not INSERT_ID.match(props["$insert_id"]):
        return "properties.$insert_id", "'properties.$insert_id' is invalid"
    return None


def default_reply(request: ImportRequest, state: ReceiverState) -> Reply:
    """What Mixpanel's strict import would answer."""
    if request.auth is None:
        return Reply(401, {"code": 401, "error": "Invalid credentials", "status": "Unauthorized"})
    if request.raw_size > MAX_BODY_BYTES:
        error = f"request exceeds max limit of {MAX_BODY_BYTES} bytes"
        return Reply(413, {"code": 413, "error": error, "status": "Request Entity Too Large"})
    events = request.events
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        error = f"the body must be a JSON array of at most {MAX_EVENTS} events"
        return Reply(400, {"code": 400, "error": error, "status": "Bad Request"})
    failed = []
    for index, event in enumerate(events):
        problem = validate(event)
        if problem:
            props = event.get("properties") if isinstance(event, dict) else None
            insert_id = props.get("$insert_id") if isinstance(props, dict) else None
            failed.append(
                {
                    "index": index,
                    "$insert_id": insert_id,
                    "field": problem[0],
                    "message": problem[1],
                }
            )
    refused = {f["index"] for f in failed}
    good = [e for i, e in enumerate(events) if i not in refused]
    with state.lock:
        state.accepted.extend(good)
    if failed:
        return Reply(
            400,
            {
                "code": 400,
                "error": "some data points in the request failed validation",
                "failed_records": failed,
                "num_records_imported": len(good),
                "status": "Bad Request",
            },
        )
    return Reply(200, {"code": 200, "num_records_imported": len(good), "status": "OK"})


class _Handler(BaseHTTPRequestHandler):
    server: "MixpanelReceiver"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str, headers=None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server's naming
        path = urlsplit(self.path).path
        if path == "/events.json":
            with self.server.state.lock:
                body = json.dumps(self.server.state.accepted).encode()
            self._send(200, body, "application/json")
        elif path == "/":
            self._send(200, self.server.page().encode(), "text/html; charset=utf-8")
        else:
            self._send(404, b'{"error": "not found"}', "application/json")

    def do_POST(self):  # noqa: N802
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if parts.path != "/import":
            self._send(404, b'{"error": "not found"}', "application/json")
            return
        try:
            body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
            events = json.loads(body or b"null")
        except (OSError, ValueError, EOFError):
            body, events = raw, None
        request = ImportRequest(
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            auth=_basic_auth(self.headers.get("Authorization", "")),
            raw_size=len(body),
            body=body,
            events=events,
        )
        with self.server.state.lock:
            self.server.state.requests.append(request)
        reply = self.server.respond(request, self.server.state)
        if reply.delay:
            self.server.stopping.wait(reply.delay)
        try:
            body = json.dumps(reply.body).encode()
            self._send(reply.status, body, "application/json", reply.headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test)


def _basic_auth(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if user else None


class MixpanelReceiver(ThreadingHTTPServer):
    """The fake host. `respond(request, state) -> Reply` decides each answer."""

    daemon_threads = True

    def __init__(
        self,
        port: int = 0,
        *,
        respond: Callable[[ImportRequest, ReceiverState], Reply] = default_reply,
        verbose: bool = False,
    ):
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = ReceiverState()
        self.respond = respond
        self.verbose = verbose
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> "MixpanelReceiver":
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()

    def page(self) -> str:
        with self.state.lock:
            events = list(reversed(self.state.accepted[-PAGE_EVENTS:]))
            total, requests = len(self.state.accepted), len(self.state.requests)
        rows = "".join(
            "<tr><td>{}</td><td><code>{}</code></td><td><pre>{}</pre></td></tr>".format(
                html.escape(str(e.get("event"))),
                html.escape(str(e.get("properties", {}).get("$insert_id"))),
                html.escape(json.dumps(e.get("properties", {}), indent=1, sort_keys=True)),
            )
            for e in events
        )
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta http-equiv='refresh' content='3'>"
            "<title>Development Mixpanel receiver</title></head><body>"
            "<h1>Development Mixpanel receiver</h1>"
            f"<p>{total} events accepted in {requests} requests (newest first; "
            "this page refreshes every 3 seconds).</p>"
            "<table><thead><tr><th scope='col'>Event</th><th scope='col'>$insert_id</th>"
            f"<th scope='col'>Properties</th></tr></thead><tbody>{rows}</tbody></table>"
            "</body></html>"
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--quiet", action="store_true")
    options = parser.parse_args(argv)
    server = MixpanelReceiver(options.port, verbose=not options.quiet)
    print(f"Development Mixpanel receiver on {server.url}/", flush=True)  # noqa: T201
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
