"""Where one webhook's time goes: the product's WSGI application called in-process.

    .venv/bin/python bench/profile_ingest.py --database-url postgres://.../db [--profile]

Migrates the given (empty, throwaway) database, provisions one organisation with a
Shopify shop and a Mixpanel project, then calls the WSGI application directly with
signed `orders/paid` webhooks, as gunicorn would, and prints the mean time per webhook
and its database round trips. With `--profile`, prints the cProfile of the run too.
"""

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import django_setup, migrate, product_env  # noqa: E402
from shop import OrderFactory, provision  # noqa: E402

CHUNKS = 5


def environ_for(request) -> dict:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": request.path,
        "QUERY_STRING": "",
        "SERVER_NAME": request.host,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": request.host,
        "CONTENT_LENGTH": str(len(request.body)),
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        "REMOTE_ADDR": "127.0.0.1",
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ[key] = value
        else:
            environ[f"HTTP_{key}"] = value
    return environ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--skip-migrate", action="store_true")
    options = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="profile-ingest-"))
    env = product_env(
        database_url=options.database_url, data_dir=data_dir, custom_hosts="http://127.0.0.1:9"
    )
    if not options.skip_migrate:
        migrate(env)
    django_setup(env)
    org = provision(f"p{int(time.time())}", receiver_url="http://127.0.0.1:9")

    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    application = get_wsgi_application()
    factory = OrderFactory(guest=False)
    requests = [factory.request(org, 10_000_000 + n) for n in range(options.requests + 50)]
    statuses = {}

    def call(request):
        def start_response(status, headers, exc_info=None):
            statuses[status] = statuses.get(status, 0) + 1

        response = application(environ_for(request), start_response)
        for _ in response:
            pass
        response.close()

    for request in requests[:50]:
        call(request)
    with CaptureQueriesContext(connection) as queries:
        call(requests[50])
    print(f"queries per webhook: {len(queries)}")
    for q in queries.captured_queries:
        print(f"  {q['time']}s  {q['sql'][:160]}")

    # Timed in chunks; the quickest chunk is the figure least disturbed by other work.
    timed = requests[51:]
    chunk = max(1, len(timed) // CHUNKS)
    best_wall = best_cpu = float("inf")
    for first in range(0, chunk * CHUNKS, chunk):
        started, cpu_started = time.perf_counter(), time.process_time()
        for request in timed[first : first + chunk]:
            call(request)
        best_wall = min(best_wall, (time.perf_counter() - started) / chunk)
        best_cpu = min(best_cpu, (time.process_time() - cpu_started) / chunk)
    print(f"statuses: {statuses}")
    print(
        f"quickest chunk of {chunk}: {best_wall * 1000:.3f} ms per webhook in-process, "
        f"{best_cpu * 1000:.3f} ms CPU"
    )
    profiler = None
    if options.profile:
        profiler = cProfile.Profile()
        extra = [factory.request(org, 20_000_000 + n) for n in range(chunk)]
        profiler.enable()
        for request in extra:
            call(request)
        profiler.disable()
        calls = pstats.Stats(profiler).total_calls
        print(f"Python function calls per webhook: {calls / chunk:,.0f}")
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(40)


if __name__ == "__main__":
    main()
