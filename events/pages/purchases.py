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
from accounts.pagination import keyset_page, query_without_cursor
from accounts.permissions import admin_required

from ..selectors import purchase_search as selectors
from ..services.held import held_purchase_link
from .forms import PAGE_SIZE, HeldLinkForm, PurchaseFilterForm


@login_required
@require_GET
def purchase_list(request):
    form = PurchaseFilterForm(request.GET or None, installations=selectors.source_installations())
    if form.is_bound and not form.is_valid():
        context = {"form": form, "page": None, "query": ""}
        return render(request, "events/pages/purchases.html", context, status=400)
    purchases = selectors.with_row_details(selectors.purchase_search(form.filters()))
    page = keyset_page(
        purchases,
        fields=("occurred_at", "id"),
        size=form.page_size(),
        older_than=request.GET.get("older"),
        newer_than=request.GET.get("newer"),
    )
    context = {"form": form, "page": page, "query": query_without_cursor(request)}
    return render(request, "events/pages/purchases.html", context)


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
    page = keyset_page(
        selectors.held_deliveries(),
        fields=("next_attempt_at", "id"),
        size=PAGE_SIZE,
        older_than=request.GET.get("older"),
        newer_than=request.GET.get("newer"),
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
