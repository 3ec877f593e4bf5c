from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from accounts.actors import Actor
from accounts.errors import ApplicationError

from .forms import SignupForm
from .notifications import send_admin_verification
from .services import organisation_create


def landing(request):
    return render(request, "tenants/landing.html")


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def signup(request):
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        limited = is_ratelimited(
            request,
            group="public-signup",
            key="ip",
            rate=settings.SIGNUP_RATE_LIMIT,
            method="POST",
            increment=True,
        )
        if limited:
            return render(request, "tenants/signup_limited.html", status=429)
        if form.is_valid():
            return _provision(request, form)
        return render(request, "tenants/signup.html", {"form": form}, status=400)
    return render(request, "tenants/signup.html", {"form": form})


def _provision(request, form):
    data = form.cleaned_data
    try:
        provisioned = organisation_create(
            slug=data["slug"],
            name=data["name"],
            admin_email=data["admin_email"],
            admin_password=data["password"],
            email_verified=False,
            actor=Actor.system("sign-up"),
        )
    except ApplicationError as exc:
        for error in exc.errors or []:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        if not exc.errors:
            form.add_error("slug" if exc.code == "slug_taken" else None, exc.detail)
        return render(request, "tenants/signup.html", {"form": form}, status=400)

    organisation = provisioned.organisation
    email = provisioned.admin.email
    # Robust: a mail failure is logged, not a 500 for an organisation that now exists;
    # signing in on the portal sends a fresh link.
    transaction.on_commit(
        lambda: send_admin_verification(organisation=organisation, email=email), robust=True
    )
    request.session["signed_up"] = {"email": email, "portal_url": organisation.portal_url}
    messages.success(request, "Your organisation is ready.")
    return redirect("signup_done")


def signup_done(request):
    details = request.session.get("signed_up")
    if not details:
        return redirect("signup")
    return render(request, "tenants/signup_done.html", details)


def service_unavailable(*, retry_after_seconds: int) -> JsonResponse:
    """503 in the API's error shape, with the `Retry-After` a sender waits for."""
    response = JsonResponse(
        {"detail": "The service is briefly unavailable; try again.", "code": "unavailable"},
        status=503,
    )
    response["Retry-After"] = str(retry_after_seconds)
    return response


def server_error(request):
    """handler500: a database that is away is a 503 the sender may retry, not a 500."""
    import sys

    from django.db import DatabaseError, InterfaceError, OperationalError
    from django.http import HttpResponseServerError
    from django.views.defaults import server_error as django_server_error

    error = sys.exc_info()[1]
    if isinstance(error, (OperationalError, InterfaceError)) or (
        isinstance(error, DatabaseError) and "connection" in str(error).lower()
    ):
        return service_unavailable(retry_after_seconds=5)
    try:
        return django_server_error(request)
    except Exception:  # noqa: BLE001 - the error page must never fail in turn
        return HttpResponseServerError(b"Server error.", content_type="text/plain")
