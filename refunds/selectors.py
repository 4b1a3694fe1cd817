import uuid

from core.money import money_to_decimal_text
from payments.models import Payment
from refunds.models import Refund
from refunds.services import credits_for_amount, payment_refundable


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


def refund_form_initial(*, payment: Payment) -> dict:
    """What a newly opened refund form holds: a full refund of what remains, the credits that much
    bought (at most the customer's balance), SMS on, what is reserved now (a submit judged against
    other numbers is refused as stale), and a new idempotency key.

    The one place a key is minted: one key per opened form, so a double click, a retry or a second
    tab re-sending this form is the same refund, never another.
    """
    refundable = payment_refundable(payment=payment)
    credits = refund_credits_suggested(payment=payment, amount=None)
    return {
        "type": Refund.Type.FULL,
        "amount": money_to_decimal_text(max(refundable.amount, 0), payment.currency),
        "credits_to_remove": credits,
        "credits_suggested": credits,
        "notify_customer": True,
        "idempotency_key": uuid.uuid4().hex,
        "expected_reserved": refundable.reserved,
    }


def refund_credits_suggested(*, payment: Payment, amount: int | None) -> int:
    """The credits a card refund of `amount` (None: all that remains) takes back: what that much of
    the payment bought, at most the customer's balance."""
    if amount is None:
        amount = max(payment_refundable(payment=payment).amount, 0)
    return min(credits_for_amount(payment=payment, amount=amount), payment.user.credits)
