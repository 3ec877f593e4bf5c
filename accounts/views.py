"""Portal pages of the accounts app: the team and the audit log."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from . import selectors, services
from .actors import Actor
from .errors import ApplicationError
from .forms import AuditFilterForm, MemberInviteForm, MemberRoleForm, form_apply_error
from .pagination import page_for_request, query_without_cursor
from .permissions import admin_required

AUDIT_PAGE_SIZE = 50


def _member_or_404(pk: int):
    member = selectors.member_get(pk=pk)
    if member is None:
        raise Http404("No such member.")
    return member


@login_required
@require_GET
def team(request):
    context = {
        "members": selectors.member_list(),
        "invite_form": MemberInviteForm(auto_id="invite_%s"),
        "role_form": MemberRoleForm(),
    }
    return render(request, "accounts/team.html", context)


@admin_required
@require_http_methods(["GET", "POST"])
def member_invite(request):
    form = MemberInviteForm(request.POST or None, auto_id="invite_%s")
    if request.method == "POST" and form.is_valid():
        try:
            member = services.member_invite(
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                portal_url=request.build_absolute_uri("/"),
                organisation_name=request.tenant.name,
                actor=Actor.member(request.user),
            )
        except ApplicationError as error:
            form_apply_error(form, error)
        else:
            messages.success(request, f"Invitation sent to {member.email}.")
            return redirect("accounts:team")
    status = 422 if form.errors else 200
    return render(request, "accounts/member_invite.html", {"form": form}, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def member_role(request, pk: int):
    member = _member_or_404(pk)
    form = MemberRoleForm(request.POST or None, initial={"role": member.role})
    if request.method == "POST" and form.is_valid():
        try:
            services.member_set_role(
                member=member, role=form.cleaned_data["role"], actor=Actor.member(request.user)
            )
        except ApplicationError as error:
            form_apply_error(form, error)
        else:
            messages.success(request, f"{member.email} is now {form.cleaned_data['role']}.")
            return redirect("accounts:team")
    status = 409 if form.errors else 200
    context = {"form": form, "member": member}
    return render(request, "accounts/member_role.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def member_remove(request, pk: int):
    member = _member_or_404(pk)
    error = None
    if request.method == "POST":
        try:
            services.member_remove(member=member, actor=Actor.member(request.user))
        except ApplicationError as exc:
            error = exc.detail
        else:
            messages.success(request, f"{member.email} was removed.")
            return redirect("accounts:team")
    context = {"member": member, "error": error}
    return render(request, "accounts/member_remove.html", context, status=409 if error else 200)


@login_required
@require_GET
def audit_log(request):
    form = AuditFilterForm(request.GET or None, actions=selectors.audit_actions())
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    entries = selectors.audit_entries(
        action=filters.get("action") or "",
        actor=filters.get("actor") or "",
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
    )
    page = page_for_request(request, entries, fields=("occurred_at", "id"), size=AUDIT_PAGE_SIZE)
    context = {"form": form, "page": page, "query": query_without_cursor(request)}
    return render(request, "accounts/audit_log.html", context, status=400 if form.errors else 200)
