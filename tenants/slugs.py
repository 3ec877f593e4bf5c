import re

from django.conf import settings
from django.core.exceptions import ValidationError

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
RESERVED_SLUGS = frozenset({"public", "www", "admin", "api", "static"})
# PostgreSQL's own schemas: `pg_*` names are refused by CREATE SCHEMA, and an existing
# `information_schema` would be entered instead of a new organisation's schema.
RESERVED_SCHEMAS = frozenset({"information_schema"})
SYSTEM_SCHEMA_PREFIX = "pg_"


def schema_name_for(slug: str) -> str:
    return slug.replace("-", "_")


def slug_problem(slug: str) -> str | None:
    """Why `slug` cannot name an organisation, or None when it can."""
    if not SLUG_PATTERN.match(slug or ""):
        return (
            "Use 3 to 40 lower-case letters, digits and hyphens, starting with a letter "
            "and ending with a letter or digit."
        )
    reserved = RESERVED_SLUGS | {settings.TENANT_BASE_SCHEMA}
    schema = schema_name_for(slug)
    if slug in reserved or schema in reserved | RESERVED_SCHEMAS:
        return "This name is reserved."
    if schema.startswith(SYSTEM_SCHEMA_PREFIX):
        return "This name is reserved."
    return None


def validate_slug(slug: str) -> None:
    problem = slug_problem(slug)
    if problem:
        raise ValidationError(problem, code="invalid_slug")


def validate_domain(value: str) -> None:
    """A domain is stored bare: no scheme, port, path or upper case."""
    if value != value.strip().lower() or any(c in value for c in ":/@ ?#"):
        raise ValidationError(
            "Store a domain without scheme, port or path, in lower case (e.g. acme.example.com).",
            code="invalid_domain",
        )
    if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?", value):
        raise ValidationError("This is not a valid host name.", code="invalid_domain")
