from django.contrib import admin
from django.db import connection

from .models import AuditEntry, Member


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "role", "is_staff", "is_active"]
    search_fields = ["email", "name"]
    exclude = ["password", "groups", "user_permissions"]

    def has_module_permission(self, request):
        return connection.schema_name == "public" and super().has_module_permission(request)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "actor_label", "action", "target_type", "target_label"]
    list_filter = ["action", "actor_kind"]
    readonly_fields = [f.name for f in AuditEntry._meta.fields]
