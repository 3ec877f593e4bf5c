from django.db import connection


def organisation(request):
    tenant = getattr(request, "tenant", None)
    is_public = tenant is None or connection.schema_name == "public"
    return {"organisation": None if is_public else tenant, "is_public_site": is_public}
