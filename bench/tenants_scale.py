"""Provisioning and upgrade times as organisations add up.

Run by `bench/run.py` against a database of its own (it needs settings of its own: the
test-only tenant app `tests.upgrade_app` stands in for a release's new migrations).

- provisioning: the median time of `organisation_create` (clone of the base schema,
  domain, first admin, audit row) with 1, 200 and 1,000 organisations present, measured
  as `bench/provisioning.py` measures it (whose helpers this reuses).
- upgrade at `--migrate-at` organisations: the upgrade app is rolled back to zero in
  every schema, then `migrate_schemas` applies its two migrations (a table, then a
  constraint) to every schema, once with the standard executor and once with
  `--executor=multiprocessing`; plus a `migrate_schemas` with nothing to apply, which
  is what most deploys run.

Prints one JSON object on stdout.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import django_setup, log, manage, migrate, product_env  # noqa: E402

UPGRADE_APP = "tests.upgrade_app"
# Organisations provisioned (and deleted again) at each checkpoint, for a median.
SAMPLES = 5


def _timed_manage(env: dict, *args: str) -> float:
    started = time.perf_counter()
    manage(env, *args, timeout=1800)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--checkpoints", default="1,200,1000")
    parser.add_argument("--migrate-at", type=int, default=200)
    options = parser.parse_args()
    checkpoints = sorted({*(int(c) for c in options.checkpoints.split(",")), options.migrate_at})

    env = product_env(
        database_url=options.database_url,
        data_dir=Path(options.data_dir),
        extra={"TEST_EXTRA_TENANT_APPS": UPGRADE_APP},
    )
    migrate(env)
    django_setup(env)
    # bench/provisioning.py's way: fillers with a cheap hasher, timed samples with the
    # real one, each sample deleted again so the population stays at its checkpoint.
    from provisioning import _populate, _samples

    result: dict = {"provisioning": {}, "migrate": {}}
    started = time.perf_counter()
    present = 0
    for checkpoint in checkpoints:
        present = _populate(checkpoint, present)
        if str(checkpoint) in options.checkpoints.split(","):
            durations = _samples(f"at{checkpoint}", SAMPLES)
            result["provisioning"][str(checkpoint)] = {
                "median_s": statistics.median(durations),
                "samples": len(durations),
                "elapsed_s": time.perf_counter() - started,
            }
            log(f"{checkpoint} organisations: median {statistics.median(durations):.3f} s")
        if checkpoint == options.migrate_at:
            result["migrate"] = _upgrade_times(env, present)
    print(json.dumps(result))  # noqa: T201


def _upgrade_times(env: dict, organisations: int) -> dict:
    from django.db import connection

    connection.close()  # the children below lock tables; this process holds nothing
    times = {"organisations": organisations}
    times["noop_s"] = _timed_manage(env, "migrate_schemas", "--noinput")
    for executor in ("standard", "multiprocessing"):
        manage(env, "migrate_schemas", "--tenant", "--noinput", "upgrade_app", "zero")
        times[f"{executor}_s"] = _timed_manage(
            env, "migrate_schemas", "--tenant", "--noinput", f"--executor={executor}"
        )
        log(f"migrated {organisations} organisations ({executor}): {times[executor + '_s']:.1f} s")
    return times


if __name__ == "__main__":
    main()
