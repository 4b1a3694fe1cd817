"""Which user a staff member may open."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from accounts.models import User
from accounts.phones import phones_formatted


def user_get_for_staff(*, staff: User, pk: int) -> User:
    """The user a staff member asked for, or 404.

    Every staff member may view every user today; roles narrow this later, here.
    """
    if not staff.is_staff:
        raise PermissionDenied
    user = get_object_or_404(User, pk=pk)
    phones_formatted([user])  # the profile shows it in the header, and compares it with the staff's own
    return user
