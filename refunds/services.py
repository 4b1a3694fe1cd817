"""Giving money back: the refund service, in the phases of DESIGN.md.

1. Reserve (one transaction): lock the payment, check the amount against what remains (pending
   refunds count as taken), insert the refund `pending` with its idempotency key.
2. Ask the gateway, outside any transaction, with that key (a retry is a replay at Stripe).
3. Record the answer (one transaction): succeeded → ledger entry, payment totals, credits, SMS;
   a definite no → failed, the reservation released; no answer → still pending, reconciled later.

Locks are always taken in the order payment → refund → user, so two refunds, or a refund and a
credits change, can wait for each other but never deadlock.
"""

import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from accounts.services import sms_notify
from payments.gateway import GatewayDeclined, GatewayRefund, GatewayUnavailable, gateway_for
from payments.models import LedgerEntry, Payment
from payments.money import money_format
from payments.services import ledger_append
from refunds.models import Refund

logger = logging.getLogger(__name__)


class RefundRefused(ValueError):
    """The refund is not allowed as asked; nothing was written. `field` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Refundable:
    amount: int  # what remains refundable now, in minor units
    reserved: int  # succeeded + unsettled refunds


def payment_refundable(*, payment: Payment) -> Refundable:
    """What remains refundable on a payment: its amount less succeeded and unsettled refunds."""
    reserved = (
        Refund.objects.filter(payment=payment, status__in=Refund.RESERVING).aggregate(total=Sum("amount"))["total"] or 0
    )
    return Refundable(amount=payment.amount - reserved, reserved=reserved)


def credits_for_amount(*, payment: Payment, amount: int) -> int:
    """Credits worth `amount` at the payment's price per credit (rounded down)."""
    if payment.amount <= 0 or payment.credits_bought <= 0:
        return 0
    return payment.credits_bought * amount // payment.amount


def refund_execute(
    *,
    payment: Payment,
    type: Refund.Type,
    amount: int | None,
    reason: Refund.Reason,
    note: str,
    actor: User,
    idempotency_key: str,
    credits_to_remove: int = 0,
    notify_customer: bool = True,
    expected_reserved: int | None = None,
) -> Refund:
    """Refund `payment` once per `idempotency_key`, never more than remains on it.

    `amount` is ignored for a full refund (it is whatever remains). For card refunds,
    `credits_to_remove` credits are taken back (capped at the balance when recorded); for
    Account credits the amount becomes credits instead and no money moves. `expected_reserved`
    is what the staff member saw as already refunded or pending: if another refund landed since,
    this one is refused as stale rather than judged against numbers nobody looked at.
    """
    refund, created = _refund_reserve(
        payment=payment,
        type=type,
        amount=amount,
        reason=reason,
        note=note,
        actor=actor,
        idempotency_key=idempotency_key,
        credits_to_remove=credits_to_remove,
        notify_customer=notify_customer,
        expected_reserved=expected_reserved,
    )
    if not created:
        return _refund_await(refund)
    with _refund_claimed(refund):
        if refund.type == Refund.Type.CREDITS:
            return refund_record_answer(refund=refund, answer=GatewayRefund(id="", status="succeeded"))
        answer = _gateway_ask(refund)
        if answer is None:
            return refund
        return refund_record_answer(refund=refund, answer=answer)


@transaction.atomic
def _refund_reserve(
    *,
    payment: Payment,
    type: Refund.Type,
    amount: int | None,
    reason: Refund.Reason,
    note: str,
    actor: User,
    idempotency_key: str,
    credits_to_remove: int,
    notify_customer: bool,
    expected_reserved: int | None,
) -> tuple[Refund, bool]:
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    # Under the payment's lock, a second submit of the same form finds the first one's refund.
    existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.payment_id != locked.pk:
            raise RefundRefused("This form was already used for another payment; reload the page.")
        return existing, False

    note = note.strip()
    if reason == Refund.Reason.OTHER and not note:
        raise RefundRefused("Say why in the note when the reason is Other.", field="note")
    refundable = payment_refundable(payment=locked)
    if expected_reserved is not None and refundable.reserved != expected_reserved:
        raise RefundRefused(
            "Another refund on this payment was made while you were filling in this form: "
            f"{money_format(refundable.reserved, locked.currency)} is refunded or pending now, "
            f"{money_format(refundable.amount, locked.currency)} remains. Check the amount and submit again.",
            field="stale",
        )
    if refundable.amount <= 0:
        raise RefundRefused("Nothing remains to refund on this payment.")
    if type == Refund.Type.FULL:
        amount = refundable.amount
    if amount is None or amount <= 0:
        raise RefundRefused("Enter an amount greater than zero.", field="amount")
    if amount > refundable.amount:
        raise RefundRefused(
            f"That exceeds the remaining amount: at most {money_format(refundable.amount, locked.currency)} "
            "can still be refunded on this payment.",
            field="amount",
        )
    if type == Refund.Type.CREDITS:
        credits_delta = credits_for_amount(payment=locked, amount=amount)
        if credits_delta <= 0:
            raise RefundRefused("This payment bought no credits, or the amount is worth less than one credit.")
    else:
        if credits_to_remove < 0:
            raise RefundRefused("Credits to remove cannot be negative.", field="credits_to_remove")
        credits_delta = -credits_to_remove

    refund = Refund.objects.create(
        payment=locked,
        type=type,
        reason=reason,
        note=note,
        amount=amount,
        currency=locked.currency,
        idempotency_key=idempotency_key,
        requested_by=actor,
        credits_delta=credits_delta,
        notify_customer=notify_customer,
    )
    return refund, True


def _advisory_key(refund: Refund) -> list[int]:
    return [0x5EF0, refund.pk]  # (refunds namespace, refund id)


class _refund_claimed:
    """Hold a session-level advisory lock on the refund while the gateway is asked and the answer
    recorded, outside any transaction: a duplicate submit waits for it and then shows the same
    outcome, instead of a half-finished one."""

    def __init__(self, refund: Refund):
        self.key = _advisory_key(refund)

    def __enter__(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", self.key)

    def __exit__(self, *exc) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", self.key)


def _refund_await(refund: Refund) -> Refund:
    with _refund_claimed(refund):
        pass
    refund.refresh_from_db()
    return refund


def _gateway_ask(refund: Refund) -> GatewayRefund | None:
    """Phase 2: ask the gateway with the refund's key; None when there was no answer."""
    if connection.in_atomic_block:
        raise RuntimeError("The gateway must not be called inside a transaction.")
    payment = refund.payment
    try:
        return gateway_for(payment.gateway).refund(
            payment_gateway_id=payment.gateway_id,
            amount=refund.amount,
            currency=refund.currency,
            reason=refund.reason,
            idempotency_key=refund.idempotency_key,
            metadata={
                "portal_refund_id": str(refund.pk),
                "portal_staff_id": str(refund.requested_by_id or ""),
            },
        )
    except GatewayDeclined as declined:
        return GatewayRefund(id=refund.gateway_refund_id, status="failed", failure_reason=str(declined))
    except GatewayUnavailable as unavailable:
        logger.warning("refund %s: no answer from the gateway (%s); it stays pending", refund.pk, unavailable)
        return None


@transaction.atomic
def refund_record_answer(*, refund: Refund, answer: GatewayRefund) -> Refund:
    """Phase 3: move a pending refund to what the gateway said, once.

    A refund already settled (by a webhook, by reconciliation, by the request that made it) is
    left as it is, so answers can arrive in any order and any number of times.
    """
    payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
    locked = Refund.objects.select_for_update().get(pk=refund.pk)
    if answer.id and not locked.gateway_refund_id:
        locked.gateway_refund_id = answer.id
    if locked.status not in Refund.UNSETTLED:
        locked.save(update_fields=["gateway_refund_id", "updated_at"])
        return locked

    if answer.status == "succeeded":
        _refund_succeed(refund=locked, payment=payment)
    elif answer.status in ("failed", "canceled"):
        locked.status = answer.status
        locked.failure_reason = answer.failure_reason or "The gateway did not say why."
        locked.settled_at = timezone.now()
    elif answer.status == "requires_action":
        locked.status = Refund.Status.REQUIRES_ACTION
    locked.save()
    return locked


def _refund_succeed(*, refund: Refund, payment: Payment) -> None:
    customer = User.objects.select_for_update().get(pk=payment.user_id)
    payment.amount_refunded += refund.amount
    payment.status = (
        Payment.Status.REFUNDED if payment.amount_refunded >= payment.amount else Payment.Status.PARTIALLY_REFUNDED
    )
    payment.save(update_fields=["amount_refunded", "status"])

    credits_delta = refund.credits_delta
    if credits_delta < 0:
        # The customer may have spent credits since the form was filled in: take what is there.
        credits_delta = -min(-credits_delta, customer.credits)
    refund.credits_delta = credits_delta
    money_delta = None if refund.type == Refund.Type.CREDITS else -refund.amount
    ledger_append(
        locked_user=customer,
        kind=LedgerEntry.Kind.REFUND,
        credits_delta=credits_delta,
        money_delta=money_delta,
        currency=refund.currency if money_delta is not None else "",
        actor=refund.requested_by,
        note=refund.note or refund.get_reason_display(),
        payment=payment,
        refund=refund,
    )
    refund.status = Refund.Status.SUCCEEDED
    refund.settled_at = timezone.now()
    if refund.notify_customer:
        sms_notify(user=customer, body=refund_sms_body(refund=refund, payment=payment), about=refund)


def refund_sms_body(*, refund: Refund, payment: Payment) -> str:
    amount = money_format(refund.amount, refund.currency)
    if refund.type == Refund.Type.CREDITS:
        return f"StatStak Labs: {amount} from your payment was added to your account as {refund.credits_delta} credits."
    return (
        f"StatStak Labs: we refunded {amount} to your original payment method. "
        "It can take 5-10 business days to appear on your statement."
    )
