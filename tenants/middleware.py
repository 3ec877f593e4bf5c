import logging
import time
import uuid

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.db import DatabaseError, connection
from django.http import HttpResponseNotFound, JsonResponse
from django.middleware import clickjacking, csrf
from django_htmx import middleware as htmx
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_tenant_domain_model
from whitenoise import middleware as whitenoise

from config.logging import organisation_var, request_id_var

from .cache import cached_organisation, forget_local_host, remember_host, routed_from_front
from .views import service_unavailable

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
# Paths served without sessions, messages or CSRF: machine-to-machine traffic.
API_PREFIXES = ("/api/", "/o/")
# Of those, the paths that skip the browser's middleware altogether (the OAuth2 token
# endpoints stay under it: django-oauth-toolkit reads `request.user`).
API_ONLY_PREFIX = "/api/"


class HealthCheckMiddleware:
    """`/healthz` on any host, before tenant routing: liveness plus a database round trip."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path != HEALTH_PATH:
            return self.get_response(request)
        try:
            connection.set_schema_to_public()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception:
            logger.exception("healthz_database_unreachable")
            return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
        return JsonResponse({"status": "ok", "database": "ok"})


class RequestIdMiddleware:
    """Names the request in every log line it causes, and in its `X-Request-Id` header.

    The context stays set until `request_finished` clears it (see tenants.signals):
    Django logs 4xx and 5xx responses after the middleware chain has returned.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else ""
        request.request_id = request_id or uuid.uuid4().hex
        request_id_var.set(request.request_id)
        organisation_var.set(None)
        started = time.perf_counter()

        response = self.get_response(request)

        response["X-Request-Id"] = request.request_id
        logger.debug(
            "request_finished",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response


class OrganisationMiddleware(TenantMainMiddleware):
    """Routes by host (case-insensitive, port ignored); unknown hosts get a bare 404."""

    @staticmethod
    def hostname_from_request(request):
        return request.get_host().split(":")[0].lower().rstrip(".")

    def get_tenant(self, domain_model, hostname):
        found, organisation = cached_organisation(hostname)
        if found is None:
            domain = domain_model.objects.select_related("tenant").filter(domain=hostname).first()
            organisation = domain.tenant if domain else None
            remember_host(hostname, organisation)
        if organisation is None:
            raise domain_model.DoesNotExist(hostname)
        return organisation

    def process_request(self, request):
        response = super().process_request(request)
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            organisation_var.set(tenant.schema_name)
        return response

    def no_tenant_found(self, request, hostname):
        return HttpResponseNotFound(b"Not found.", content_type="text/plain; charset=utf-8")

    def process_response(self, request, response):
        routed = getattr(request, "tenant", None)
        if response.status_code != 500 or routed is None or not routed_from_front(routed):
            return response
        return self._route_again(request, response, routed)

    def _route_again(self, request, response, routed):
        """A request that failed on an organisation this process routed from memory.

        Another process may have deleted that organisation (or it was deleted and
        signed up again) within `ORGANISATION_HOST_LOCAL_SECONDS`: the host is read
        again. Gone: the 404 any unknown host gets. Another organisation now: 503, and
        the sender's retry is routed afresh. Still the same: the failure stands.
        """
        hostname = self.hostname_from_request(request)
        forget_local_host(hostname)
        try:
            connection.set_schema_to_public()
            domains = get_tenant_domain_model().objects.select_related("tenant")
            domain = domains.filter(domain=hostname).first()
        except DatabaseError:
            return response
        current = domain.tenant if domain else None
        if current is None:
            return self.no_tenant_found(request, hostname)
        if current.pk != routed.pk:
            remember_host(hostname, current)
            return service_unavailable(retry_after_seconds=1)
        return response


class ApiSessionBypassMiddleware:
    """API and OAuth2 routes are token-authenticated: no CSRF check, no session work.

    Marks the request so CsrfViewMiddleware skips it; SessionMiddleware still attaches a
    lazy session that is never loaded because nothing on these routes touches it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PREFIXES):
            request._dont_enforce_csrf_checks = True
        return self.get_response(request)


class ApiExemptMixin:
    """Skips the middleware it is mixed into on `/api/` routes.

    Each of these serves browsers: static files, sessions, CSRF, the signed-in user,
    messages, framing rules, htmx. The API authenticates every call with a token and
    touches none of it, and on the ingest path their per-request work was a measurable
    share of each webhook. The classes stay subclasses of the originals, so checks
    that look for them (the admin's, allauth's) still find them.
    """

    def __call__(self, request):
        if request.path_info.startswith(API_ONLY_PREFIX):
            return self.get_response(request)
        return super().__call__(request)


class WhiteNoiseMiddleware(ApiExemptMixin, whitenoise.WhiteNoiseMiddleware):
    pass


class SessionMiddleware(ApiExemptMixin, sessions.SessionMiddleware):
    pass


class CsrfViewMiddleware(ApiExemptMixin, csrf.CsrfViewMiddleware):
    def process_view(self, request, callback, callback_args, callback_kwargs):
        if request.path_info.startswith(API_ONLY_PREFIX):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class AuthenticationMiddleware(ApiExemptMixin, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(ApiExemptMixin, messages.MessageMiddleware):
    pass


class XFrameOptionsMiddleware(ApiExemptMixin, clickjacking.XFrameOptionsMiddleware):
    pass


class HtmxMiddleware(ApiExemptMixin, htmx.HtmxMiddleware):
    pass
