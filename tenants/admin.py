"""The operators' admin on the public host.

Creating and deleting organisations goes through the same services as sign-up and the
commands, so the admin never writes an organisation row or schema of its own.
"""

from django.contrib import admin, messages
from django.db import connection

from accounts.actors import Actor

from .forms import OrganisationCreationForm
from .models import Domain, Organisation, WorkDue
from .services import organisation_create, organisation_delete


class OperatorsOnly:
    def has_module_permission(self, request):
        return connection.schema_name == "public" and super().has_module_permission(request)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Organisation)
class OrganisationAdmin(OperatorsOnly, admin.ModelAdmin):
    list_display = ["slug", "name", "schema_name", "created_at"]
    search_fields = ["slug", "name"]
    readonly_fields = ["slug", "schema_name", "created_at"]
    inlines = [DomainInline]
    add_form = OrganisationCreationForm
    add_fields = ["name", "slug", "admin_email"]

    def get_queryset(self, request):
        return super().get_queryset(request).clients()

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.add_fields
        return ["name", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return [] if obj is None else self.inlines

    def save_form(self, request, form, change):
        if change:
            return super().save_form(request, form, change)
        # Adding: the provisioned row stands in for the form's unsaved instance, so the
        # admin's history entry and redirect point at the real organisation.
        data = form.cleaned_data
        provisioned = organisation_create(
            slug=data["slug"],
            name=data["name"],
            admin_email=data["admin_email"],
            actor=Actor.member(request.user),
        )
        self.message_user(
            request,
            f"Provisioned {provisioned.organisation.portal_url} for {provisioned.admin.email}: "
            "they choose a password with “Forgot your password?” on the sign-in page.",
            messages.SUCCESS,
        )
        return provisioned.organisation

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    def delete_model(self, request, obj):
        organisation_delete(organisation=obj, actor=Actor.member(request.user))

    def delete_queryset(self, request, queryset):
        for organisation in queryset:
            organisation_delete(organisation=organisation, actor=Actor.member(request.user))


@admin.register(WorkDue)
class WorkDueAdmin(OperatorsOnly, admin.ModelAdmin):
    list_display = ["organisation", "due_at"]
