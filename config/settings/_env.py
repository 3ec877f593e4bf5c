import sys

from django.core.exceptions import ImproperlyConfigured

from config.env import read_env

ENV = read_env()

if ENV.is_production and ENV.missing_production_secrets():
    missing = ", ".join(ENV.missing_production_secrets())
    # Refuse to start: a production process must never run on generated keys.
    raise ImproperlyConfigured(f"ENVIRONMENT=production requires {missing} to be set.")

TESTING = "pytest" in sys.modules or (len(sys.argv) > 1 and sys.argv[1] == "test")
