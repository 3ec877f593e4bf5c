from django.contrib import admin, messages
from django.db import connection

from accounts.actors import Actor
from accounts.errors import ApplicationError

from .forms import SignupForm
from .models import Domain, Organisation, WorkDue
from .services import organisation_create, organisation_delete


class OperatorsOnly:
    def has_module_permission(self, request):
        return connection.schema_name == "public" and super().has_module_permission(request)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


class OrganisationCreationForm(SignupForm):
    password = None


@admin.register(Organisation)
class OrganisationAdmin(OperatorsOnly, admin.ModelAdmin):
    list_display = ["slug", "name", "schema_name", "created_at"]
    search_fields = ["slug", "name"]
    readonly_fields = ["schema_name", "slug", "created_at"]
    inlines = [DomainInline]
    actions = ["delete_organisations"]

    def get_queryset(self, request):
        return super().get_queryset(request).clients()

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            return OrganisationCreationForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "slug", "admin_email"]
        return ["name", "slug", "schema_name", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return [] if obj is None else self.inlines

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        data = form.cleaned_data
        try:
            provisioned = organisation_create(
                slug=data["slug"],
                name=data["name"],
                admin_email=data["admin_email"],
                actor=Actor.member(request.user),
            )
        except ApplicationError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            raise
        form.instance = provisioned.organisation
        obj.pk = provisioned.organisation.pk
        self.message_user(
            request,
            f"Created {provisioned.organisation.portal_url} for {provisioned.admin.email}; "
            "they can reset their password from the sign-in page.",
            messages.SUCCESS,
        )

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    def delete_model(self, request, obj):
        organisation_delete(organisation=obj, actor=Actor.member(request.user))

    @admin.action(description="Delete the selected organisations and their data")
    def delete_organisations(self, request, queryset):
        for organisation in queryset:
            organisation_delete(organisation=organisation, actor=Actor.member(request.user))


@admin.register(WorkDue)
class WorkDueAdmin(OperatorsOnly, admin.ModelAdmin):
    list_display = ["organisation", "due_at"]
