"""Who may use the portal: active staff members only, on every view and every partial."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to the login page; signed-in non-staff, and staff without a role
    that lets them look customers up (`accounts.view_user`), get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (user.is_active and user.is_staff):
            raise PermissionDenied("The admin portal is for StatStak Labs staff only.")
        if not user.has_perm("accounts.view_user"):
            raise PermissionDenied("Your staff account has no role in the portal yet; ask an Administrator.")
        return view(request, *args, **kwargs)

    return wrapper
