"""Portal pages for users (the organisation's shoppers): search, and one user's page."""

import uuid

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.pagination import keyset_page, query_without_cursor

from ..selectors import customer_search as selectors
from .forms import CustomerSearchForm


@login_required
@require_GET
def user_list(request):
    form = CustomerSearchForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "events/pages/users.html", {"form": form, "page": None}, status=400)
    query = form.cleaned_data.get("q", "") if form.is_bound else ""
    page = keyset_page(
        selectors.customer_search(query),
        fields=("created_at", "id"),
        size=form.page_size(),
        older_than=request.GET.get("older"),
        newer_than=request.GET.get("newer"),
    )
    context = {"form": form, "page": page, "query": query_without_cursor(request)}
    return render(request, "events/pages/users.html", context)


@login_required
@require_GET
def user_detail(request, user_id: uuid.UUID):
    customer = selectors.customer_detail(customer_id=user_id)
    if customer is None:
        raise Http404("No such user.")
    context = {
        "customer": customer,
        "identities": list(customer.identities.all()),
        "purchases": selectors.customer_purchases(customer),
        "purchases_shown": selectors.USER_PURCHASES_SHOWN,
    }
    return render(request, "events/pages/user.html", context)
