from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from accounts.models import User
from payments.models import Payment


def payment_get_for_staff(*, staff: User, user_pk: int, payment_pk: int) -> Payment:
    """The payment of the customer in the URL, or 404: a payment id from another customer's page
    must not open (or refund) someone else's payment."""
    if not staff.is_staff:
        raise PermissionDenied
    return get_object_or_404(Payment.objects.select_related("user"), pk=payment_pk, user_id=user_pk)


def refund_permission_check(*, staff: User) -> None:
    if not staff.has_perm("refunds.execute_refund"):
        raise PermissionDenied("You do not have permission to refund payments.")
