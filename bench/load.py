"""A small HTTP load generator for loopback: raw sockets, one request per connection.

gunicorn's sync workers close the connection after every response, so each request
opens its own. Requests are built by the caller as complete bytes (`Request`); threads
send them and keep status, latency and the answer's body. The generator's own cost is
a socket round trip per request, so it stays well below the server's on this machine.
"""

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from harness import LOOPBACK

# A request that takes longer than this counts as failed (status 0).
REQUEST_TIMEOUT_SECONDS = 30.0
# A retrying sender gives up on one request after this long (Shopify: 48 hours).
RETRY_FOR_SECONDS = 180.0


@dataclass(frozen=True)
class Request:
    host: str
    path: str
    body: bytes
    headers: dict[str, str]
    # Whatever the caller needs to match the answer to what it sent.
    key: object = None

    def encode(self) -> bytes:
        lines = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {self.host}",
            f"Content-Length: {len(self.body)}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in self.headers.items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass(frozen=True)
class Answer:
    key: object
    status: int  # 0: no answer (refused, reset, timed out)
    started: float
    seconds: float
    body: bytes = b""


def send(port: int, request: Request, timeout: float = REQUEST_TIMEOUT_SECONDS) -> Answer:
    started = time.monotonic()
    wall = time.time()
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
            sock.sendall(request.encode())
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        raw = b"".join(chunks)
        head, _, body = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    except (OSError, ValueError, IndexError):
        status, body = 0, b""
    return Answer(request.key, status, wall, time.monotonic() - started, body)


@dataclass
class LoadResult:
    answers: list[Answer] = field(default_factory=list)
    seconds: float = 0.0
    # Requests sent again after no answer or a 5xx (by a retrying sender).
    retried: int = 0
    # Every status seen, retried answers included.
    seen: dict[int, int] = field(default_factory=dict)

    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for answer in self.answers:
            counts[answer.status] = counts.get(answer.status, 0) + 1
        return counts

    def ok(self) -> list[Answer]:
        return [a for a in self.answers if 200 <= a.status < 300]

    @property
    def rate(self) -> float:
        return len(self.ok()) / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        """Latency of successful requests at `fraction` (0.5, 0.99), in milliseconds."""
        times = sorted(a.seconds for a in self.ok())
        if not times:
            return float("nan")
        index = min(len(times) - 1, max(0, round(fraction * len(times)) - 1))
        return times[index] * 1000


def run(
    port: int,
    streams: list[Iterator[Request]],
    *,
    seconds: float | None = None,
    retry: Callable[[Answer], bool] | None = None,
) -> LoadResult:
    """One thread per stream sends its requests back to back, until the stream ends or
    `seconds` pass. With `retry`, an answer it accepts is sent again (a sender that
    retries as Shopify does), and only the last answer is kept."""
    result = LoadResult()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds if seconds else None

    def worker(stream: Iterator[Request]) -> None:
        kept, seen, retried = [], {}, 0
        for request in stream:
            if deadline and time.monotonic() >= deadline:
                break
            answer = send(port, request)
            seen[answer.status] = seen.get(answer.status, 0) + 1
            first_try = time.monotonic()
            while retry and retry(answer) and time.monotonic() - first_try < RETRY_FOR_SECONDS:
                retried += 1
                time.sleep(0.2)
                answer = send(port, request)
                seen[answer.status] = seen.get(answer.status, 0) + 1
            kept.append(answer)
        with lock:
            result.answers.extend(kept)
            result.retried += retried
            for status, count in seen.items():
                result.seen[status] = result.seen.get(status, 0) + count

    threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in streams]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - started
    return result


def no_answer_or_server_error(answer: Answer) -> bool:
    """What a webhook sender retries: no answer at all, or a 5xx."""
    return answer.status == 0 or answer.status >= 500


@contextlib.contextmanager
def background(port: int, streams, **kwargs):
    """`run` in a thread; the block runs meanwhile; yields a holder of the result."""
    holder: dict = {}
    thread = threading.Thread(
        target=lambda: holder.update(result=run(port, streams, **kwargs)), daemon=True
    )
    thread.start()
    try:
        yield holder
    finally:
        thread.join()
