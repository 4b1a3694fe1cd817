"""What the refund dialog shows: the preview of a refund's consequences before Execute, and the
result after it (references, when the money arrives, the customer's text message as it goes).

Reads only, without locks: the refund service judges everything again under its locks when
Execute is pressed. The preview uses the service's own rules (`credits_for_amount`, the approval
rules, `refund_sms_body`), so that what it shows is what the service would do with the same
numbers, never a second copy of a rule.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import User
from core.money import money_format
from notifications.models import SmsMessage, SmsStatus
from payments.models import CreditChangeRequest, LedgerEntry, Payment
from payments.selectors import payment_dispute_blocking_refunds
from refunds.models import Refund
from refunds.selectors import RefundAllowance, refund_allowance, refund_credits_suggested
from refunds.services import credits_for_amount, payment_refundable, refund_sms_body

# "Someone else is on this customer right now": refunds and credit changes this recent are named
# in the preview, with who made them, so two people do not fix the same complaint twice.
RECENT_ACTIVITY_MINUTES = 15

# Stripe tells staff that a card refund takes 5-10 business days to reach the customer's
# statement (stripe.com/docs/refunds: "5-10 business days"). The sandbox gateway stands in for it.
CARD_ARRIVAL_BUSINESS_DAYS = (5, 10)

# A text message moves no further from these: the result stops asking after it.
SMS_FINAL_STATUSES = frozenset({SmsStatus.DELIVERED, SmsStatus.UNDELIVERED, SmsStatus.FAILED})
# The console backend (local runs) has no delivery callback: "sent" is as far as it goes.
SMS_FINAL_WITHOUT_CALLBACK = frozenset({"console"})


def refund_type_for_amount(*, chosen: str, amount: int | None, remaining: int) -> str:
    """The type follows the amount: a card refund of all that remains is Full, of less Partial.
    Account credits is its own choice and stays so; "" while there is no amount to judge."""
    if chosen == Refund.Type.CREDITS:
        return Refund.Type.CREDITS
    if amount is None or amount <= 0:
        return chosen if chosen == Refund.Type.FULL else ""
    return Refund.Type.FULL if amount >= remaining else Refund.Type.PARTIAL


def refund_action_label(*, type: str, amount: int | None, currency: str, credits: int = 0) -> str:
    """What Execute will do, in the words on its button: "Execute refund of $12.50 to the card"."""
    if not amount or amount <= 0:
        return "Execute refund"
    money = money_format(amount, currency)
    if type == Refund.Type.CREDITS:
        return f"Execute refund of {money} as {credits:,} credits"
    return f"Execute refund of {money} to the card"


def refund_busy_label(*, type: str, amount: int | None, currency: str) -> str:
    """What the button says while the refund is on its way ("Refunding $12.50…")."""
    if not amount or amount <= 0:
        return "Refunding…"
    return f"Refunding {money_format(amount, currency)}…"


@dataclass(frozen=True)
class RecentActivity:
    """A refund or a credit change on the customer in the last minutes: who, what, when."""

    at: datetime
    who: str
    what: str
    yours: bool

    @property
    def ago(self) -> str:
        minutes = int((timezone.now() - self.at).total_seconds() // 60)
        if minutes < 1:
            return "just now"
        return f"{minutes} minute{'s' if minutes != 1 else ''} ago"


@dataclass(frozen=True)
class RefundPreview:
    """The consequences of a refund as the form stands, shown before Execute."""

    payment: Payment
    type: str  # a Refund.Type, or "" while there is no amount
    amount: int | None
    remaining: int  # what remains refundable now
    credits_bought: int  # with this payment
    credits_used_since: int  # by the customer since this payment
    balance_now: int
    credits_change: int  # negative: removed; positive: Account credits added
    sms_text: str  # the exact text the customer will get, "" when none
    sms_off_reason: str  # why no text will be sent, "" when one will
    allowance: RefundAllowance
    recent: list[RecentActivity] = field(default_factory=list)
    dispute_warning: str = ""
    problem: str = ""  # why there is nothing to preview yet (no amount, too much)

    @property
    def currency(self) -> str:
        return self.payment.currency

    @property
    def balance_after(self) -> int:
        return max(self.balance_now + self.credits_change, 0)

    @property
    def remaining_after(self) -> int:
        return max(self.remaining - (self.amount or 0), 0)

    @property
    def approval_rule_label(self) -> str:
        rule = self.allowance.judgement.rule
        return str(Refund.ApprovalRule(rule).label) if rule else ""

    @property
    def action_label(self) -> str:
        return refund_action_label(
            type=self.type, amount=self.amount, currency=self.currency, credits=max(self.credits_change, 0)
        )

    @property
    def busy_label(self) -> str:
        return refund_busy_label(type=self.type, amount=self.amount, currency=self.currency)


def credits_used_since(*, payment: Payment) -> int:
    """Credits the customer spent (ledger `usage` entries) since `payment` was made."""
    used = LedgerEntry.objects.filter(
        user_id=payment.user_id, kind=LedgerEntry.Kind.USAGE, created_at__gte=payment.created_at
    ).aggregate(total=Sum("credits_delta"))["total"]
    return -(used or 0)


def _person(user: User | None, *, staff: User) -> str:
    if user is None:
        return "The system"
    if user.pk == staff.pk:
        return "You"
    return user.get_full_name() or user.email


def customer_recent_activity(
    *, customer: User, staff: User, minutes: int = RECENT_ACTIVITY_MINUTES
) -> list[RecentActivity]:
    """Refunds (any of the customer's payments) and credit changes (made, or waiting for approval)
    on `customer` in the last `minutes`, newest first."""
    since = timezone.now() - timedelta(minutes=minutes)
    rows: list[RecentActivity] = []
    refunds = (
        Refund.objects.filter(payment__user=customer, created_at__gte=since)
        .select_related("requested_by", "payment")
        .order_by("-created_at")[:10]
    )
    for refund in refunds:
        who = _person(refund.requested_by, staff=staff) if refund.requested_by else refund.get_source_display()
        rows.append(
            RecentActivity(
                at=refund.created_at,
                who=who,
                what=(
                    f"{refund.get_type_display().lower()} of {money_format(refund.amount, refund.currency)} "
                    f"on {refund.payment.description or refund.payment.gateway_id} ({refund.get_status_display()})"
                ),
                yours=refund.requested_by_id == staff.pk,
            )
        )
    adjustments = (
        LedgerEntry.objects.filter(user=customer, kind=LedgerEntry.Kind.ADJUSTMENT, created_at__gte=since)
        .select_related("actor")
        .order_by("-id")[:10]
    )
    for entry in adjustments:
        rows.append(
            RecentActivity(
                at=entry.created_at,
                who=_person(entry.actor, staff=staff),
                what=f"credit change {entry.credits_delta:+,} (balance {entry.balance_after:,})",
                yours=entry.actor_id == staff.pk,
            )
        )
    waiting = (
        CreditChangeRequest.objects.filter(
            user=customer, status=CreditChangeRequest.Status.AWAITING_APPROVAL, created_at__gte=since
        )
        .select_related("requested_by")
        .order_by("-id")[:10]
    )
    for change in waiting:
        rows.append(
            RecentActivity(
                at=change.created_at,
                who=_person(change.requested_by, staff=staff),
                what=f"credit change to {change.new_balance:,} waiting for approval",
                yours=change.requested_by_id == staff.pk,
            )
        )
    return sorted(rows, key=lambda row: row.at, reverse=True)


def refund_dispute_warning(*, payment: Payment) -> str:
    """The preview's dispute warning, listed first: why a dispute on the payment forbids the
    refund (open and the gateway would refuse it, or lost), or "" when none does."""
    dispute = payment_dispute_blocking_refunds(payment=payment)
    return dispute.refund_refusal() if dispute is not None else ""


def refund_preview(
    *,
    payment: Payment,
    staff: User,
    type: str,
    amount: int | None,
    credits_to_remove: int | None,
    notify_customer: bool,
    problem: str = "",
) -> RefundPreview:
    """What a refund of `amount` (None: none typed yet) of `type` would do, read now.

    `credits_to_remove` None means the suggestion (what that much of the payment bought, at most
    the balance), as the form takes an empty field.
    """
    customer = payment.user
    remaining = max(payment_refundable(payment=payment).amount, 0)
    if amount is not None and amount > remaining:
        problem = problem or (
            f"That exceeds the remaining amount: at most {money_format(remaining, payment.currency)} "
            "can still be refunded on this payment."
        )
        amount = None
    type = refund_type_for_amount(chosen=type, amount=amount, remaining=remaining)
    if type == Refund.Type.FULL and amount is None and not problem:
        amount = remaining

    credits_change = 0
    if amount:
        if type == Refund.Type.CREDITS:
            credits_change = credits_for_amount(payment=payment, amount=amount)
        else:
            removed = credits_to_remove
            if removed is None:
                removed = refund_credits_suggested(payment=payment, amount=amount)
            credits_change = -min(removed, customer.credits)

    sms_text, sms_off = "", ""
    if not notify_customer:
        sms_off = "No text message: Notify the customer by SMS is off."
    elif not customer.phone:
        sms_off = "No text message: the customer has no phone number."
    elif amount:
        draft = Refund(type=type, amount=amount, currency=payment.currency, credits_delta=credits_change)
        sms_text = refund_sms_body(refund=draft, payment=payment)
    else:
        sms_off = "The text appears here once there is an amount."

    return RefundPreview(
        payment=payment,
        type=type,
        amount=amount,
        remaining=remaining,
        credits_bought=payment.credits_bought,
        credits_used_since=credits_used_since(payment=payment),
        balance_now=customer.credits,
        credits_change=credits_change,
        sms_text=sms_text,
        sms_off_reason=sms_off,
        allowance=refund_allowance(payment=payment, staff=staff, amount=amount or remaining),
        recent=customer_recent_activity(customer=customer, staff=staff),
        dispute_warning=refund_dispute_warning(payment=payment),
        problem=problem,
    )


# After Execute.


def business_days_after(start: date, days: int) -> date:
    """The date `days` business days (Monday to Friday) after `start`."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


@dataclass(frozen=True)
class RefundOutcome:
    """What the result tells the staff member, to answer the customer's next question."""

    refund: Refund
    title: str  # the dialog's title in this state
    reference: str  # the portal's refund reference
    arrival: str  # when the money should reach the customer, "" when no money moves
    sms: SmsMessage | None


def refund_reference(refund: Refund) -> str:
    """The portal's reference for a refund, as staff quote it to a customer: "RF-000123"."""
    return f"RF-{refund.pk:06d}"


def refund_title(refund: Refund) -> str:
    """The dialog's title once the refund is asked for, matching its state."""
    if refund.status == Refund.Status.SUCCEEDED:
        return "Credits added" if refund.type == Refund.Type.CREDITS else "Refund sent"
    return {
        Refund.Status.AWAITING_APPROVAL: "Refund awaiting approval",
        Refund.Status.PENDING: "Refund pending",
        Refund.Status.REQUIRES_ACTION: "Refund pending",
        Refund.Status.FAILED: "Refund failed",
        Refund.Status.CANCELED: "Refund canceled",
        Refund.Status.REJECTED: "Refund rejected",
    }.get(refund.status, "Refund")


def refund_arrival(refund: Refund, *, today: date | None = None) -> str:
    """When the money should reach the customer: Stripe's 5-10 business days to the card."""
    if refund.type == Refund.Type.CREDITS:
        return "Now: the credits are on the customer's account."
    if refund.status not in (Refund.Status.SUCCEEDED, Refund.Status.PENDING, Refund.Status.REQUIRES_ACTION):
        return ""
    start = today or timezone.localdate(refund.settled_at or refund.created_at)
    low, high = CARD_ARRIVAL_BUSINESS_DAYS
    first, last = business_days_after(start, low), business_days_after(start, high)
    return (
        f"{low}-{high} business days to the card: between {first:%b} {first.day} and "
        f"{last:%b} {last.day}, {last.year} (Stripe's estimate; the customer's bank decides)."
    )


def refund_sms(refund: Refund) -> SmsMessage | None:
    """The newest text message about `refund`, if one was written."""
    return (
        SmsMessage.objects.filter(about_type=ContentType.objects.get_for_model(Refund), about_id=refund.pk)
        .order_by("-id")
        .first()
    )


def sms_is_final(message: SmsMessage | None) -> bool:
    """No more news will come about this message: the result stops asking."""
    if message is None:
        return True
    if message.status in SMS_FINAL_STATUSES:
        return True
    return message.status == SmsStatus.SENT and message.provider in SMS_FINAL_WITHOUT_CALLBACK


def refund_outcome(refund: Refund) -> RefundOutcome:
    return RefundOutcome(
        refund=refund,
        title=refund_title(refund),
        reference=refund_reference(refund),
        arrival=refund_arrival(refund),
        sms=refund_sms(refund),
    )


def refund_get_for_payment(*, payment: Payment, refund_pk: int) -> Refund | None:
    return Refund.objects.filter(Q(pk=refund_pk) & Q(payment=payment)).first()
