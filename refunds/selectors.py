from payments.models import Payment
from refunds.models import Refund


def refund_list(*, payment: Payment) -> list[Refund]:
    """A payment's refunds, newest first, with who asked for them."""
    return list(Refund.objects.filter(payment=payment).select_related("requested_by").order_by("-created_at", "-id"))


def refunds_awaiting_approval() -> list[Refund]:
    """Refunds waiting for a second staff member, oldest first."""
    return list(
        Refund.objects.filter(status=Refund.Status.AWAITING_APPROVAL)
        .select_related("payment__user", "requested_by")
        .order_by("created_at", "id")[:200]
    )
