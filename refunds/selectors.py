from payments.models import Payment
from refunds.models import Refund


def refund_list(*, payment: Payment) -> list[Refund]:
    """A payment's refunds, newest first, with who asked for them."""
    return list(Refund.objects.filter(payment=payment).select_related("requested_by").order_by("-created_at", "-id"))
