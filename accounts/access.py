"""Which user a staff member may open."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from accounts.models import User


def user_get_for_staff(*, staff: User, pk: int) -> User:
    """The user a staff member asked for, or 404.

    Every staff member may view every user today; roles narrow this later, here.
    """
    if not staff.is_staff:
        raise PermissionDenied
    return get_object_or_404(User, pk=pk)
