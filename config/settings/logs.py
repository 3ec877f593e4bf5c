from ._env import ENV, TESTING

_formatter = "json" if ENV.is_production else "console"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.logging.ContextFilter"}},
    "formatters": {
        "json": {"()": "config.logging.JsonFormatter"},
        "console": {"()": "config.logging.ConsoleFormatter"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": _formatter,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["stdout"], "level": "WARNING" if TESTING else "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django_q": {"level": "WARNING" if TESTING else "INFO"},
        # The embedded database's start and stop commands; its failures still show.
        "pgserver": {"level": "WARNING"},
        # oauthlib's DEBUG lines carry issued access tokens ("Issuing token ... {'access_token':
        # ...}"): pinned at INFO so a root logger turned to DEBUG never writes a credential.
        "oauthlib": {"level": "INFO"},
    },
}
