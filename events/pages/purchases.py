"""Portal pages for purchases: the filtered list, one purchase, and held purchases."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.actors import Actor
from accounts.errors import ApplicationError
from accounts.forms import form_apply_error
from accounts.pagination import page_for_request, query_without_cursor
from accounts.permissions import admin_required

from ..selectors import purchase_search as selectors
from ..services.held import held_purchase_link
from .forms import PAGE_SIZE, HeldLinkForm, PurchaseFilterForm
from .listing import list_page


@login_required
@require_GET
def purchase_list(request):
    form = PurchaseFilterForm(request.GET or None, installations=selectors.source_installations())
    return list_page(
        request,
        form=form,
        rows=lambda form: selectors.with_row_details(selectors.purchase_search(form.filters())),
        fields=("occurred_at", "id"),
        template="events/pages/purchases.html",
    )


@login_required
@require_GET
def purchase_detail(request, purchase_id: uuid.UUID):
    purchase = selectors.purchase_detail(purchase_id=purchase_id)
    if purchase is None:
        raise Http404("No such purchase.")
    context = {
        "purchase": purchase,
        "adjustments": list(purchase.adjustments.all()),
        "deliveries": list(purchase.deliveries.all()),
        "payloads": selectors.raw_payloads(purchase),
    }
    return render(request, "events/pages/purchase.html", context)


@login_required
@require_GET
def held_list(request):
    page = page_for_request(
        request, selectors.held_deliveries(), fields=("next_attempt_at", "id"), size=PAGE_SIZE
    )
    context = {
        "page": page,
        "held": selectors.group_by_purchase(page.items),
        "query": query_without_cursor(request),
    }
    return render(request, "events/pages/held.html", context)


@admin_required
@require_http_methods(["GET", "POST"])
def held_link(request, purchase_id: uuid.UUID):
    held = selectors.held_purchase(purchase_id=purchase_id)
    if held is None:
        raise Http404("This purchase is not held.")
    form = HeldLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = held_purchase_link(
                purchase=held.purchase,
                user=form.cleaned_data["user"],
                actor=Actor.member(request.user),
            )
        except ApplicationError as error:
            form_apply_error(form, error)
        else:
            messages.success(
                request, f"Linked to {customer}; the purchase is released to its destinations."
            )
            return redirect("portal:purchase", purchase_id=held.purchase.pk)
    status = 422 if form.errors else 200
    context = {"held": held, "form": form}
    return render(request, "events/pages/held_link.html", context, status=status)
