"""When a refund needs a second person: the cumulative approval rules.

A refund waits for approval (`awaiting_approval`) when, with its own amount added, any of these
passes the approval threshold of the payment's currency (`limits.refund_approval_threshold`:
REFUND_APPROVAL_THRESHOLDS, else REFUND_APPROVAL_THRESHOLD; refunds in that currency only), judged
in this order, the first that applies being the one named:

1. `refund`: the refund alone;
2. `staff_payment`: what the same staff member refunded on the same payment;
3. `any_payment`: what anyone refunded on the same payment;
4. `staff_customer`: what the same staff member refunded on any of the customer's payments;
5. `any_customer`: what anyone refunded on any of the customer's payments;

each over the last REFUND_APPROVAL_WINDOW_HOURS (rolling, default 24), counting every refund that
holds money back (awaiting approval, pending, requires action, succeeded; refunds made outside
the portal count for "anyone"), not rejected or failed ones. "Passes" is "is more than", as for a
single refund: with the $500.00 default, four $500.00 refunds of one $2,000.00 payment by one
person go: the first at once (it is $500.00), the second onward to Approvals (the second brings
that person's refunds on the payment to $1,000.00). Splitting a refund crosses the threshold
exactly when the sum does.

`refund_execute` judges under the payment's row lock and the customer's refunds lock
(`locks.CUSTOMER_REFUNDS_LOCKS`), so two refunds on one customer, from two tabs or two staff
members, are judged one after the other, each counting the other. The refund dialog shows the
same judgement beforehand (`refund_approval_judge`, unlocked: the service stays authoritative).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import User
from core.money import money_format
from payments.models import Payment
from refunds.limits import refund_approval_threshold
from refunds.models import Refund


@dataclass(frozen=True)
class RefundTotals:
    """What was refunded (or is held back) in the window, in the payment's currency."""

    staff_payment: int
    any_payment: int
    staff_customer: int
    any_customer: int


def refund_totals(*, payment: Payment, actor: User) -> RefundTotals:
    """The four totals of the rules, in one query."""
    since = timezone.now() - timedelta(hours=settings.REFUND_APPROVAL_WINDOW_HOURS)
    refunds = Refund.objects.filter(
        payment__user_id=payment.user_id,
        currency=payment.currency,
        status__in=Refund.RESERVING,
        created_at__gte=since,
    )
    on_payment, by_actor = Q(payment_id=payment.pk), Q(requested_by_id=actor.pk)
    totals = refunds.aggregate(
        staff_payment=Sum("amount", filter=on_payment & by_actor, default=0),
        any_payment=Sum("amount", filter=on_payment, default=0),
        staff_customer=Sum("amount", filter=by_actor, default=0),
        any_customer=Sum("amount", default=0),
    )
    return RefundTotals(**totals)


@dataclass(frozen=True)
class ApprovalJudgement:
    rule: str  # an `Refund.ApprovalRule`, "" when the refund goes ahead without a second person
    total: int  # the total (the refund included) that passes the threshold
    threshold: int
    currency: str

    @property
    def needs_approval(self) -> bool:
        return bool(self.rule)

    def message(self) -> str:
        """Which rule applies, in the staff member's words; "" when none does."""
        if not self.rule:
            return ""
        total, threshold = money_format(self.total, self.currency), money_format(self.threshold, self.currency)
        hours = settings.REFUND_APPROVAL_WINDOW_HOURS
        # "today" for the default rolling 24 hours, as the staff member would say it.
        anyones = "today's" if hours == 24 else f"the last {hours} hours'"
        yours_when = "today" if hours == 24 else f"in the last {hours} hours"
        rule = Refund.ApprovalRule
        what = {
            rule.REFUND: f"This refund of {total} is over {threshold}",
            rule.STAFF_PAYMENT: f"This refund brings your refunds on this payment {yours_when} to {total}",
            rule.ANY_PAYMENT: f"This refund brings {anyones} refunds on this payment to {total}",
            rule.STAFF_CUSTOMER: f"This refund brings your refunds on this customer {yours_when} to {total}",
            rule.ANY_CUSTOMER: f"This refund brings {anyones} refunds on this customer to {total}",
        }[self.rule]
        over = "" if self.rule == Refund.ApprovalRule.REFUND else f", over {threshold}"
        return f"{what}{over}: a second person must approve."


def refund_approval_judge(*, payment: Payment, actor: User, amount: int) -> ApprovalJudgement:
    """Which approval rule a refund of `amount` on `payment` by `actor` falls under, if any."""
    threshold = refund_approval_threshold(currency=payment.currency)
    totals = refund_totals(payment=payment, actor=actor)
    candidates: list[tuple[models.TextChoices, int]] = [
        (Refund.ApprovalRule.REFUND, amount),
        (Refund.ApprovalRule.STAFF_PAYMENT, totals.staff_payment + amount),
        (Refund.ApprovalRule.ANY_PAYMENT, totals.any_payment + amount),
        (Refund.ApprovalRule.STAFF_CUSTOMER, totals.staff_customer + amount),
        (Refund.ApprovalRule.ANY_CUSTOMER, totals.any_customer + amount),
    ]
    for rule, total in candidates:
        if total > threshold:
            return ApprovalJudgement(rule=rule, total=total, threshold=threshold, currency=payment.currency)
    return ApprovalJudgement(rule="", total=amount, threshold=threshold, currency=payment.currency)


def refund_approval_headroom(*, payment: Payment, actor: User) -> int:
    """The largest refund that goes ahead now without a second person (the broadest total, anyone's
    on the customer, bounds all the others)."""
    totals = refund_totals(payment=payment, actor=actor)
    return max(refund_approval_threshold(currency=payment.currency) - totals.any_customer, 0)
