from ._env import ENV

# A task may run this long before the cluster kills it; the queue re-offers a task
# after `retry` seconds, which must be longer (a system check enforces it), or a slow
# task would be handed to a second worker while the first still runs.
Q_TASK_TIMEOUT_SECONDS = 60
Q_RETRY_SECONDS = 90

Q_CLUSTER = {
    "name": "analytics",
    "workers": 2,
    "timeout": Q_TASK_TIMEOUT_SECONDS,
    "retry": Q_RETRY_SECONDS,
    "max_attempts": 1,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 1000,
    "poll": 0.5,
    "label": "Task queue",
}
if ENV.REDIS_URL:
    Q_CLUSTER["django_redis"] = None
    Q_CLUSTER["redis"] = ENV.REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
