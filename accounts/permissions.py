from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


def admin_required(view):
    """Portal views that change anything: signed-in admins only, 403 for viewers."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_admin:
            raise PermissionDenied("Only admins can change this.")
        return view(request, *args, **kwargs)

    return wrapper
