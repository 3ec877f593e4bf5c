"""Portal pages of the integration catalog (organisation host, signed-in members).

Everyone signed in may look; only admins change anything (`admin_required`: 403 for
viewers). Secrets are write-only: forms never render them back, and a generated API key
appears once, in the response to the request that made it.
"""

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.actors import Actor
from accounts.errors import ApplicationError
from accounts.permissions import admin_required

from . import registry, selectors, services
from .forms import apply_errors, field_rows, installation_form

FORM_TEMPLATE = "integrations/form.html"


def _integration_or_404(key: str):
    integration = registry.get_integration(key)
    if integration is None:
        raise Http404("No such integration.")
    return integration


def _installation(pk):
    installation = selectors.installation_get(installation_id=pk)
    integration = registry.get_integration(installation.integration)
    if integration is None:
        raise Http404("This installation's integration is not available.")
    return installation, integration


def _actor(request) -> Actor:
    return Actor.member(request.user)


def _config_data(integration, post) -> dict:
    return {key: post[key] for key in integration.config_keys() if key in post}


def _events_summary_url(installation) -> str | None:
    """The `events` partial with this installation's counts, once `events` offers it."""
    try:
        return reverse("events:installation_summary", args=[installation.pk])
    except NoReverseMatch:
        return None


@login_required
@require_GET
def catalog(request):
    counts = selectors.installation_counts()
    cards = [
        (integration, counts.get(integration.key, 0)) for integration in registry.integrations()
    ]
    installations = [
        (installation, registry.get_integration(installation.integration))
        for installation in selectors.installation_list()
    ]
    return render(
        request, "integrations/catalog.html", {"cards": cards, "installations": installations}
    )


def _run_form(request, integration, *, installation, call):
    """Bind the installation form to the POST and, when it is valid, pass it to `call`.

    Returns the form, carrying the service's errors if it raised, and `call`'s result.
    """
    form = installation_form(integration, data=request.POST or None, installation=installation)
    if request.method != "POST" or not form.is_valid():
        return form, None
    config = _config_data(integration, request.POST)
    try:
        return form, call(name=form.cleaned_data["name"], config=config)
    except ApplicationError as exc:
        apply_errors(form, exc)
        return form, None


def _form_page(request, integration, form, *, installation, check_url):
    context = {
        "integration": integration,
        "rows": field_rows(form),
        "form": form,
        "installation": installation,
        "check_url": check_url,
    }
    return render(request, FORM_TEMPLATE, context, status=422 if form.errors else 200)


@admin_required
@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
def install(request, key: str):
    integration = _integration_or_404(key)
    form, result = _run_form(
        request,
        integration,
        installation=None,
        call=partial(
            services.installation_create, integration=integration.key, actor=_actor(request)
        ),
    )
    if result is not None:
        return _after_secret_change(request, result, "installed")
    check_url = reverse("integrations:install_check", args=[integration.key])
    return _form_page(request, integration, form, installation=None, check_url=check_url)


@admin_required
@sensitive_post_parameters()
@require_POST
def install_check(request, key: str):
    """htmx: validate the install form as it is filled in; nothing is saved."""
    integration = _integration_or_404(key)
    return _check_partial(request, integration, installation=None)


@login_required
@require_GET
def detail(request, pk):
    installation, integration = _installation(pk)
    return render(request, "integrations/detail.html", _detail_context(installation, integration))


def _detail_context(installation, integration, **extra) -> dict:
    ingest_url = integration.ingest_url(installation)
    return {
        "installation": installation,
        "integration": integration,
        "ingest_url": ingest_url,
        "summary": integration.summary(installation),
        "secret_states": integration.secret_states(installation),
        "steps": integration.setup_steps(installation, ingest_url),
        **extra,
    }


@admin_required
@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
def edit(request, pk):
    installation, integration = _installation(pk)
    form, updated = _run_form(
        request,
        integration,
        installation=installation,
        call=partial(
            services.installation_update, installation=installation, actor=_actor(request)
        ),
    )
    if updated is not None:
        messages.success(request, f"Saved {updated.name}.")
        return redirect("integrations:detail", pk=updated.pk)
    check_url = reverse("integrations:edit_check", args=[installation.pk])
    return _form_page(request, integration, form, installation=installation, check_url=check_url)


@admin_required
@sensitive_post_parameters()
@require_POST
def edit_check(request, pk):
    installation, integration = _installation(pk)
    return _check_partial(request, integration, installation=installation)


def _check_partial(request, integration, *, installation):
    form, _ = _run_form(
        request,
        integration,
        installation=installation,
        call=partial(
            services.installation_check, integration=integration.key, installation=installation
        ),
    )
    # Fields not filled in yet are not an error while the person is still typing.
    shown = {
        name: errors
        for name, errors in form.errors.items()
        if name != "__all__" and str(request.POST.get(name, "")).strip()
    }
    context = {"rows": field_rows(form, shown)}
    return render(request, "integrations/_field_errors.html", context)


@admin_required
@require_POST
def set_active(request, pk):
    installation, _ = _installation(pk)
    is_active = request.POST.get("is_active") == "1"
    services.installation_set_active(
        installation=installation, is_active=is_active, actor=_actor(request)
    )
    verb = "Enabled" if is_active else "Disabled"
    messages.success(request, f"{verb} {installation.name}.")
    return redirect("integrations:detail", pk=installation.pk)


@admin_required
@require_http_methods(["GET", "POST"])
def delete(request, pk):
    installation, integration = _installation(pk)
    if request.method == "POST":
        name = installation.name
        services.installation_delete(installation=installation, actor=_actor(request))
        messages.success(request, f"Deleted {name}.")
        return redirect("integrations:catalog")
    context = {
        "installation": installation,
        "integration": integration,
        "summary_url": _events_summary_url(installation),
    }
    return render(request, "integrations/delete.html", context)


@admin_required
@sensitive_post_parameters()
@require_POST
def rotate(request, pk):
    installation, integration = _installation(pk)
    try:
        result = services.installation_rotate_secret(
            installation=installation,
            value=request.POST.get("secret", ""),
            actor=_actor(request),
        )
    except ApplicationError as exc:
        context = _detail_context(installation, integration, rotate_error=exc.detail)
        return render(request, "integrations/detail.html", context, status=422)
    return _after_secret_change(request, result, "rotated")


def _after_secret_change(request, result, what: str):
    """Show a generated key once, on this response only; otherwise go to the page."""
    installation = result.installation
    if result.one_time:
        integration = result.integration
        context = _detail_context(installation, integration, one_time=result.one_time, what=what)
        response = render(request, "integrations/detail.html", context)
        # The key is on this response only: keep it out of every cache.
        patch_cache_control(response, no_store=True, private=True)
        return response
    if what == "installed":
        messages.success(request, f"Installed {installation.name}.")
    else:
        messages.success(request, f"Replaced the secret of {installation.name}.")
    return redirect("integrations:detail", pk=installation.pk)


@admin_required
@require_POST
def test_connection(request, pk):
    """htmx: try the installation's credentials and say what the host answered."""
    installation, integration = _installation(pk)
    if not integration.can_test_connection:
        raise Http404("This integration has no connection test.")
    result = integration.test_connection(installation)
    if request.htmx:
        return render(request, "integrations/_connection_result.html", {"result": result})
    context = _detail_context(installation, integration, connection_result=result)
    return render(request, "integrations/detail.html", context)
