"""Settling refunds: the gateway's answer recorded (phase 3), and a refund reversed when the bank
sends the money back after all.

An answer moves a refund that is still unsettled, once: succeeded → ledger entry, the payment's
refunded amount and status, credits, the customer told; failed or canceled → the reserved amount
released, the reason kept for staff; no answer → still pending, reconciled later. A refund already
settled is left as it is, so answers (the request's own, webhooks, reconciliation) can arrive in
any order and any number of times; a succeeded refund that the gateway later calls failed is
reversed, once.

Every writer here takes its rows with `refund_rows_lock`, in the order payment → refund → user
(see `refunds.services.locks`), inside its one transaction.
"""

import logging

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from core.money import money_format
from notifications.services import customer_notify
from payments.gateway import GatewayRefund
from payments.models import LedgerEntry, Payment
from payments.services import ledger_append
from refunds.audit import RefundAction
from refunds.models import Refund
from refunds.services.locks import refund_rows_lock

logger = logging.getLogger(__name__)


def refund_facts(refund: Refund) -> dict:
    """What the audit trail records of a refund, before or after a change."""
    return {
        "amount": refund.amount,
        "currency": refund.currency,
        "type": refund.type,
        "reason": refund.reason,
        "status": refund.status,
        "credits_delta": refund.credits_delta,
        "payment": refund.payment.gateway_id,
    }


@transaction.atomic
def refund_record_answer(*, refund: Refund, answer: GatewayRefund, by: str = "") -> Refund:
    """Phase 3: move a pending refund to what the gateway said, once.

    A refund already settled (by a webhook, by reconciliation, by the request that made it) is
    left as it is, so answers can arrive in any order and any number of times. `by` names the
    system that brought the answer ("Stripe", "Reconciliation") for the audit trail; without it,
    the staff member who asked for the refund is its actor.
    """
    # The customer's row only when the answer may move their credits: a success.
    rows = refund_rows_lock(payment_id=refund.payment_id, refund_id=refund.pk, customer=answer.status == "succeeded")
    payment, locked = rows.payment, rows.refund
    if answer.id and not locked.gateway_refund_id:
        locked.gateway_refund_id = answer.id
    if locked.status not in Refund.UNSETTLED:
        locked.save(update_fields=["gateway_refund_id", "updated_at"])
        return locked
    previous_status = locked.status

    if answer.status == "succeeded":
        _refund_succeed(refund=locked, payment=payment, customer=rows.customer)
    elif answer.status in ("failed", "canceled"):
        locked.status = answer.status
        locked.failure_reason = answer.failure_reason or "The gateway did not say why."
        locked.settled_at = timezone.now()
    elif answer.status == "requires_action":
        locked.status = Refund.Status.REQUIRES_ACTION
    locked.save()
    if locked.status in (Refund.Status.SUCCEEDED, Refund.Status.FAILED, Refund.Status.CANCELED):
        audit_record(
            action=RefundAction.EXECUTED if locked.status == Refund.Status.SUCCEEDED else RefundAction.FAILED,
            actor=None if by else locked.requested_by,
            actor_label=by,
            target_user=payment.user,
            about=locked,
            before={"status": previous_status},
            after=refund_facts(locked) | {"failure_reason": locked.failure_reason, "gateway_refund_id": answer.id},
        )
    return locked


def _refund_succeed(*, refund: Refund, payment: Payment, customer: User) -> None:
    """A refund succeeded: its ledger entry, the payment's totals, credits, the customer told.
    The caller holds the rows of all three, locked in order."""
    refunded = payment.amount_refunded + refund.amount
    if refunded > payment.amount:
        # Only a refund made at the gateway can get here (the portal reserves first): say, card
        # money refunded in the Stripe Dashboard on top of an Account-credits refund, which the
        # gateway never saw. The money did leave, so the ledger records it; the payment's total
        # stops at its amount, and a person must look.
        logger.error(
            "refund %s takes payment %s past its amount (%s of %s); recorded, needs a person",
            refund.pk,
            payment.pk,
            refunded,
            payment.amount,
        )
        refunded = payment.amount
    payment.amount_refunded = refunded
    payment.status = payment.status_for_refunded()
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
        refund_id=refund.pk,
    )
    refund.status = Refund.Status.SUCCEEDED
    refund.settled_at = timezone.now()
    if refund.notify_customer:
        customer_notify(user=customer, text=refund_sms_body(refund=refund, payment=payment), about=refund)


def refund_sms_body(*, refund: Refund, payment: Payment) -> str:
    amount = money_format(refund.amount, refund.currency, plain_spaces=True)  # GSM-7 has no no-break space
    if refund.type == Refund.Type.CREDITS:
        return f"StatStak Labs: {amount} from your payment was added to your account as {refund.credits_delta} credits."
    return (
        f"StatStak Labs: we refunded {amount} to your original payment method. "
        "It can take 5-10 business days to appear on your statement."
    )


# After the request: what the gateway says later (webhooks, reconciliation). Every answer goes
# through the same locks (payment → refund → user) as the request.


@transaction.atomic
def refund_reverse(*, refund: Refund, failure_reason: str) -> Refund:
    """Undo a card refund that succeeded and then failed at the bank (a closed card, say): the
    money did not reach the customer after all.

    One `refund_reversal` ledger entry puts the money back (+amount) and the credits the refund
    removed; the payment's refunded amount and status go back; the refund becomes `failed`, so
    the amount is refundable again; a customer who was told of the refund gets a correction.
    Only a succeeded, money-moving refund is reversed, and only once: a repeated failure notice
    finds it `failed` and changes nothing.
    """
    rows = refund_rows_lock(payment_id=refund.payment_id, refund_id=refund.pk, customer=True)
    payment, locked, customer = rows.payment, rows.refund, rows.customer
    if locked.status != Refund.Status.SUCCEEDED or locked.type == Refund.Type.CREDITS:
        return locked

    payment.amount_refunded -= locked.amount
    payment.status = payment.status_for_refunded()
    payment.save(update_fields=["amount_refunded", "status"])
    credits_back = max(-locked.credits_delta, 0)  # what the refund actually took (capped when it succeeded)
    reason = failure_reason or "The gateway did not say why."
    ledger_append(
        locked_user=customer,
        kind=LedgerEntry.Kind.REFUND_REVERSAL,
        credits_delta=credits_back,
        money_delta=locked.amount,
        currency=locked.currency,
        actor=None,
        note=f"The refund failed after it had succeeded: {reason}",
        payment=payment,
        refund_id=locked.pk,
    )
    locked.status = Refund.Status.FAILED
    locked.failure_reason = reason
    locked.settled_at = timezone.now()
    locked.save(update_fields=["status", "failure_reason", "settled_at", "updated_at"])
    audit_record(
        action=RefundAction.REVERSED,
        actor_label="Stripe",
        target_user=customer,
        about=locked,
        before={"status": "succeeded", "amount_refunded": payment.amount_refunded + locked.amount},
        after={"status": locked.status, "amount_refunded": payment.amount_refunded, "credits_back": credits_back},
    )
    if locked.notify_customer:
        customer_notify(
            user=customer, text=refund_reversal_sms_body(refund=locked, credits_back=credits_back), about=locked
        )
    logger.warning("refund %s failed after it had succeeded (%s); reversed in the ledger", locked.pk, reason)
    return locked


def refund_reversal_sms_body(*, refund: Refund, credits_back: int) -> str:
    amount = money_format(refund.amount, refund.currency, plain_spaces=True)  # GSM-7 has no no-break space
    credits = f" The {credits_back:,} credits we had removed are back on your account." if credits_back else ""
    return (
        f"StatStak Labs: a correction. Your bank returned our refund of {amount}, so it did not reach you.{credits} "
        "Please contact us and we will arrange another refund."
    )


@transaction.atomic
def refund_gateway_update(*, refund: Refund, answer: GatewayRefund) -> Refund:
    """What the gateway now says about one of our refunds, in any order and any number of times.

    An unsettled refund moves to the answer's status (`refund_record_answer`); a succeeded one
    that the gateway now calls failed is reversed (`refund_reverse`); any other answer about a
    settled refund changes nothing. The decision is taken under the refund's row lock, so a
    failure notice racing with the request that records success is never lost.
    """
    locked = refund_rows_lock(payment_id=refund.payment_id, refund_id=refund.pk).refund
    if locked.status == Refund.Status.SUCCEEDED and answer.status in (Refund.Status.FAILED, Refund.Status.CANCELED):
        return refund_reverse(refund=locked, failure_reason=answer.failure_reason)
    settled_elsewise = answer.status in ("succeeded", "failed", "canceled") and answer.status != locked.status
    if locked.status not in Refund.UNSETTLED and settled_elsewise:
        # An older notice overtaken by a newer one, or a contradiction a person should look at.
        logger.warning("refund %s is %s; the gateway's %r answer is ignored", locked.pk, locked.status, answer.status)
    return refund_record_answer(refund=locked, answer=answer, by="Stripe")
