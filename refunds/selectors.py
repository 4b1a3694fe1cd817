import uuid
from dataclasses import dataclass

from accounts.models import User
from payments.models import Payment
from refunds.limits import refund_daily_cap
from refunds.models import Refund
from refunds.services import credits_for_amount, payment_refundable
from refunds.services.approval_rules import ApprovalJudgement, refund_approval_headroom, refund_approval_judge
from refunds.services.request import daily_cap_used


@dataclass(frozen=True)
class RefundAllowance:
    """What the refund dialog tells the staff member before Execute: whether the amount in the form
    needs a second person (and by which rule), how much more would not, and their daily cap."""

    judgement: ApprovalJudgement
    headroom: int  # the largest refund that goes ahead now without a second person
    daily_used: int
    daily_cap: int

    @property
    def daily_remaining(self) -> int:
        return max(self.daily_cap - self.daily_used, 0)


def refund_allowance(*, payment: Payment, staff: User, amount: int) -> RefundAllowance:
    """The approval rule a refund of `amount` would fall under, read without locks: the refund
    service judges again, under its locks, when Execute is pressed."""
    return RefundAllowance(
        judgement=refund_approval_judge(payment=payment, actor=staff, amount=amount),
        headroom=refund_approval_headroom(payment=payment, actor=staff),
        daily_used=daily_cap_used(actor=staff, currency=payment.currency),
        daily_cap=refund_daily_cap(currency=payment.currency),
    )


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
    """What a newly opened refund form holds: nothing that moves money (no type, no amount, no
    credits: the staff member chooses them, and the dialog shows the suggestions beside the
    fields), SMS on when the customer has a phone (customers are told of every refund; the box says
    so), what is reserved now (a submit judged against other numbers is refused as stale), and a
    new idempotency key.

    The one place a key is minted: one key per opened form, so a double click, a retry or a second
    tab re-sending this form is the same refund, never another.
    """
    refundable = payment_refundable(payment=payment)
    return {
        "notify_customer": bool(payment.user.phone),
        "idempotency_key": uuid.uuid4().hex,
        "expected_reserved": refundable.reserved,
    }


def refund_credits_suggested(*, payment: Payment, amount: int | None) -> int:
    """The credits a card refund of `amount` (None: all that remains) takes back: what that much of
    the payment bought, at most the customer's balance."""
    if amount is None:
        amount = max(payment_refundable(payment=payment).amount, 0)
    return min(credits_for_amount(payment=payment, amount=amount), payment.user.credits)
