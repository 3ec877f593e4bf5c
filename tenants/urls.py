from django.conf import settings


def _netloc(host: str) -> str:
    port = settings.BASE_PORT
    return f"{host}:{port}" if port else host


def organisation_host(slug: str) -> str:
    return f"{slug}.{settings.BASE_HOST}"


def organisation_base_url(slug: str) -> str:
    """`http://acme.localhost:8000/`: the slug before BASE_URL's host, its scheme and port."""
    return f"{settings.BASE_SCHEME}://{_netloc(organisation_host(slug))}/"


def public_url(path: str = "/") -> str:
    return f"{settings.BASE_SCHEME}://{_netloc(settings.BASE_HOST)}{path}"
