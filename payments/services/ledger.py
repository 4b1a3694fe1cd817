"""The ledger and the payments the gateway reports.

The ledger is append-only and `User.credits` is its cache: every change writes one ledger entry
and the new balance in one transaction (`ledger_append`), under the customer's row lock, taken
before the balance is read, so no change is lost. Lock order: a writer that also locks a payment
or a refund (the refund service) takes them first, payment → refund → user; the writers here
lock only the customer's row.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from core.correlation import correlation_id
from payments.audit import PaymentAction
from payments.gateway import PaymentNotice
from payments.models import LedgerEntry, Payment


class CreditsRefused(ValueError):
    """The requested change is not allowed; nothing was written."""


@dataclass
class CreditsConflict(Exception):
    """The balance moved since the staff member loaded the page; nothing was written."""

    current_balance: int
    last_entry: LedgerEntry | None

    def __str__(self) -> str:
        return f"The balance is now {self.current_balance}."


def ledger_append(
    *,
    locked_user: User,
    kind: LedgerEntry.Kind,
    credits_delta: int,
    actor: User | None,
    note: str = "",
    money_delta: int | None = None,
    currency: str = "",
    payment: Payment | None = None,
    refund_id: int | None = None,  # the refunds.Refund it records; payments does not import refunds
) -> LedgerEntry:
    """Write one ledger entry and move the user's cached balance with it, in the caller's transaction.

    The caller must hold the user's row lock (`select_for_update`) from the moment it read the
    balance it based its decision on: otherwise two writers could both compute from the same
    balance and one change would be lost.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger_append must run inside the caller's transaction.")
    balance_after = locked_user.credits + credits_delta
    if balance_after < 0:
        raise CreditsRefused(f"That would leave {balance_after} credits; a balance cannot go below 0.")
    entry = LedgerEntry.objects.create(
        user=locked_user,
        kind=kind,
        credits_delta=credits_delta,
        money_delta=money_delta,
        currency=currency,
        balance_after=balance_after,
        actor=actor,
        note=note,
        payment=payment,
        refund_id=refund_id,
        correlation_id=correlation_id(),
    )
    User.objects.filter(pk=locked_user.pk).update(credits=balance_after)
    locked_user.credits = balance_after
    return entry


@transaction.atomic
def payment_record_from_gateway(
    *,
    user_id: int,
    gateway: Payment.Gateway,
    gateway_id: str,
    amount: int,
    currency: str,
    credits_bought: int,
    description: str = "",
    created_at: datetime | None = None,
) -> tuple[Payment, bool]:
    """Record a payment made at the gateway (a checkout outside the portal) and its `purchase`
    ledger entry, once per gateway id: `(payment, created)`.

    The customer's row is locked first, so two notices of one payment (Stripe reports both its
    charge and its payment intent succeeding) are recorded one after the other: the
    second finds the first's payment and writes nothing, instead of failing on the unique key.
    """
    if amount <= 0:
        raise ValueError("A payment's amount must be positive.")
    if credits_bought < 0:
        raise ValueError("A payment cannot buy a negative number of credits.")
    customer = User.objects.select_for_update().get(pk=user_id)
    existing = Payment.objects.filter(gateway=gateway, gateway_id=gateway_id).first()
    if existing is not None:
        return existing, False
    payment = Payment.objects.create(
        user=customer,
        gateway=gateway,
        gateway_id=gateway_id,
        description=description[:255],
        amount=amount,
        currency=currency.upper(),
        credits_bought=credits_bought,
        created_at=created_at or timezone.now(),
    )
    ledger_append(
        locked_user=customer,
        kind=LedgerEntry.Kind.PURCHASE,
        credits_delta=credits_bought,
        money_delta=amount,
        currency=payment.currency,
        actor=None,
        note=description or f"Payment {gateway_id}",
        payment=payment,
    )
    audit_record(
        action=PaymentAction.PAYMENT_RECORDED,
        actor_label="Stripe",
        target_user=customer,
        about=payment,
        after={"gateway_id": gateway_id, "amount": amount, "currency": payment.currency, "credits": credits_bought},
    )
    return payment, True


def payment_record_from_notice(*, notice: PaymentNotice) -> str:
    """Record the payment a gateway's notice reports (`payment_record_from_gateway`: once per
    gateway id, with its `purchase` ledger entry), for a customer the portal knows; return what
    it did, in a few words, for the event's record."""
    if not User.objects.filter(pk=notice.customer_id).exists():
        return f"ignored: no customer {notice.customer_id}"
    payment, was_new = payment_record_from_gateway(
        user_id=notice.customer_id,
        gateway=Payment.Gateway(notice.gateway),
        gateway_id=notice.gateway_id,
        amount=notice.amount,
        currency=notice.currency,
        credits_bought=notice.credits,
        description=notice.description,
        created_at=notice.created_at,
    )
    return f"payment {payment.pk}: {'recorded' if was_new else 'already recorded'}"
