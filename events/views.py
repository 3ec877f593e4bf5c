"""Portal pages for deliveries (organisation host, signed-in members).

Everyone signed in may look; only admins change anything (`admin_required`: 403 for
viewers). Viewers see distinct ids masked. Installation pages of the catalog include
`installation_summary` and link to `replay` (the backfill) without importing `events`.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.actors import Actor
from accounts.errors import ApplicationError
from accounts.permissions import admin_required
from catalog_integrations.models import Installation

from .forms import DeliveryFilterForm, ReplayForm
from .models import Delivery, DeliveryState, Purchase
from .selectors import outbox
from .services import redelivery

PAGE_SIZE = 50


def _destination_or_404(destination_id) -> Installation:
    destination = outbox.destination_get(destination_id=destination_id)
    if destination is None:
        raise Http404("No such destination.")
    return destination


def _back(request, fallback: str) -> str:
    """Where to return after a change: the page it came from, if it is on this host."""
    target = request.POST.get("next", "")
    safe = target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if safe else fallback


def _report(request, exc: ApplicationError) -> None:
    messages.error(request, exc.detail)


@login_required
@require_GET
def deliveries(request):
    destinations = list(outbox.destination_installations())
    form = DeliveryFilterForm(request.GET or None, destinations=destinations)
    state = destination_id = ""
    if form.is_valid():
        state = form.cleaned_data["state"]
        destination_id = form.cleaned_data["destination"]
    page = Paginator(
        outbox.deliveries_list(state=state, destination_id=destination_id or None), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "counts": _state_counts(outbox.delivery_counts(destination_id=destination_id or None)),
        "destination": next((d for d in destinations if str(d.pk) == destination_id), None),
        "paused": [d for d in destinations if d.paused_at and d.is_active],
        "query": _query_without_page(request),
    }
    template = "events/_delivery_rows.html" if request.htmx else "events/deliveries.html"
    return render(request, template, context)


def _state_counts(counts: dict[str, int]) -> list[tuple[str, str, int]]:
    """(state, its label, count) for each state, so pages show "Awaiting identity"."""
    return [(state, DeliveryState(state).label, count) for state, count in counts.items()]


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@login_required
@require_GET
def purchase_timeline(request, purchase_id):
    purchase = outbox.purchase_timeline(purchase_id=purchase_id)
    if purchase is None:
        raise Http404("No such purchase.")
    return render(request, "events/purchase.html", {"purchase": purchase})


@admin_required
@require_POST
def delivery_retry(request, delivery_id):
    delivery = Delivery.objects.select_related("destination").filter(pk=delivery_id).first()
    if delivery is None:
        raise Http404("No such delivery.")
    try:
        redelivery.delivery_retry(delivery=delivery, actor=Actor.member(request.user))
        messages.success(request, "The delivery is queued to be sent again.")
    except ApplicationError as exc:
        _report(request, exc)
    fallback = reverse("events:purchase", args=[delivery.purchase_id])
    return redirect(_back(request, fallback))


@admin_required
@require_POST
def destination_retry_failed(request, destination_id):
    destination = _destination_or_404(destination_id)
    count = redelivery.deliveries_retry_failed(
        destination=destination, actor=Actor.member(request.user)
    )
    messages.success(request, f"{count} failed or dead deliveries are queued again.")
    fallback = reverse("events:deliveries") + f"?destination={destination.pk}"
    return redirect(_back(request, fallback))


@admin_required
@require_POST
def destination_resume(request, destination_id):
    destination = _destination_or_404(destination_id)
    redelivery.destination_resume(destination=destination, actor=Actor.member(request.user))
    messages.success(request, f"Sending to {destination.name} has resumed.")
    fallback = reverse("events:deliveries") + f"?destination={destination.pk}"
    return redirect(_back(request, fallback))


@login_required
@require_http_methods(["GET", "POST"])
def replay(request, destination_id):
    """Replay a time range to a destination; after installing one, its backfill."""
    destination = _destination_or_404(destination_id)
    if request.method == "POST":
        if not request.user.is_admin:
            raise PermissionDenied("Only admins can change this.")
        form = ReplayForm(request.POST)
        if form.is_valid():
            try:
                result = redelivery.deliveries_replay(
                    destination=destination,
                    start=form.cleaned_data["start"],
                    end=form.cleaned_data["end"],
                    actor=Actor.member(request.user),
                )
            except ApplicationError as exc:
                form.add_error(None, exc.detail)
            else:
                messages.success(
                    request,
                    f"Replay queued: {result['created']} new and {result['reset']} "
                    f"earlier deliveries to {destination.name}.",
                )
                return redirect(reverse("events:deliveries") + f"?destination={destination.pk}")
    else:
        form = ReplayForm.last_days()
    context = {"destination": destination, "form": form, "backfill": "backfill" in request.GET}
    return render(request, "events/replay.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def stuck(request):
    return render(request, "events/stuck.html", {"deliveries": outbox.deliveries_stuck()[:500]})


@login_required
@require_GET
def installation_summary(request, installation_id):
    """htmx partial: what an installation has in `events` (for the catalog's pages)."""
    installation = Installation.objects.filter(pk=installation_id).first()
    if installation is None:
        raise Http404("No such installation.")
    context = {
        "installation": installation,
        "purchases": Purchase.objects.filter(installation=installation).count(),
        "counts": [
            row
            for row in _state_counts(outbox.delivery_counts(destination_id=installation.pk))
            if row[2]
        ],
    }
    return render(request, "events/_installation_summary.html", context)


@login_required
@require_GET
def paused_banner(request):
    """htmx partial: the banner naming paused destinations, empty when none is."""
    return render(request, "events/_paused_banner.html", {"paused": outbox.paused_destinations()})
