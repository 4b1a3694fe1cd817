"""Asking for a refund: `refund_execute`, in the phases of DESIGN.md.

0. No self-service: a staff member cannot refund a payment of their own account (same person,
   email or phone); refused before anything else, and audited.
1. Reserve (one transaction): lock the payment, refuse it while the customer's bank disputes it
   (an open dispute: Stripe refuses it too), check the amount against what remains (pending
   refunds count as taken) and the staff member's daily cap, insert the refund `pending` with its
   idempotency key (`awaiting_approval` when a cumulative approval rule applies: see
   `approval_rules`, which says which one, and `approvals`).
2. Ask the gateway, outside any transaction, with that key (a retry is a replay at Stripe).
3. Record the answer (one transaction, `settle.refund_record_answer`): succeeded → ledger entry,
   payment totals, credits, SMS; a definite no → failed, the reservation released; no answer →
   still pending, reconciled later.

Lock order: the form's idempotency lock (all three phases) → the refund's lock (phases 2 and 3)
→ the rows, payment → refund → user (`locks.refund_rows_lock`); under the payment's row lock, the
customer's refunds lock (the cumulative approval rules), then the daily-cap lock, last. So two
refunds, or a refund and a credits change, can wait for each other but never deadlock.
"""

import logging
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, models, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from core.correlation import correlation_id
from core.currencies import stripe_amount_problem
from core.money import money_format
from payments.gateway import GatewayDeclined, GatewayRefund, GatewayUnavailable, gateway_for
from payments.models import Payment
from payments.selectors import payment_dispute_blocking_refunds
from payments.services.locks import advisory_xact_lock
from refunds.audit import RefundAction
from refunds.limits import refund_daily_cap
from refunds.models import Refund
from refunds.services.approval_rules import refund_approval_judge
from refunds.services.locks import (
    CUSTOMER_REFUNDS_LOCKS,
    DAILY_CAP_LOCKS,
    IDEMPOTENCY_LOCKS,
    REFUND_LOCKS,
    advisory_lock,
    refund_rows_lock,
)
from refunds.services.settle import refund_facts, refund_record_answer

logger = logging.getLogger(__name__)


class RefundRefused(ValueError):
    """The refund is not allowed as asked; nothing was written. `field` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class RefundStale(RefundRefused):
    """Another refund on the payment landed since the form was filled in (its `expected_reserved`
    is not what is reserved now); nothing was written. `reserved` is what is reserved now, so the
    form can be shown again on the current numbers."""

    def __init__(self, message: str, *, reserved: int):
        super().__init__(message, field="stale")
        self.reserved = reserved


class RefundUnrecorded(Exception):
    """The gateway was asked and answered, but the database went away before the answer was
    recorded. The refund is saved as pending; reconciliation settles it once the database is back."""

    def __init__(self, *, refund_id: int, amount: int, currency: str):
        super().__init__(f"refund {refund_id}: the gateway's answer is not recorded yet")
        self.refund_id, self.amount, self.currency = refund_id, amount, currency


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
    if actor.is_same_person_as(payment.user):
        refund_self_service_refuse(actor=actor, customer=payment.user, about=payment, message=SELF_REFUND_MESSAGE)
    # Every submit of one form (double click, retry, second tab) takes the same lock first, so a
    # duplicate waits for the first to finish all three phases and then shows the same outcome.
    with advisory_lock(IDEMPOTENCY_LOCKS, idempotency_key):
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
        if not created or refund.status == Refund.Status.AWAITING_APPROVAL:
            return refund
        return refund_carry_out(refund)


def refund_carry_out(refund: Refund) -> Refund:
    """Phases 2 and 3 for a refund that is pending and may go ahead, holding the refund's lock so
    that reconciliation skips it while its request is at the gateway."""
    with advisory_lock(REFUND_LOCKS, refund.pk):
        if refund.type == Refund.Type.CREDITS:
            return refund_record_answer(refund=refund, answer=GatewayRefund(id="", status="succeeded"))
        answer = gateway_ask(refund)
        if answer is None:
            return refund
        try:
            return refund_record_answer(refund=refund, answer=answer)
        except DatabaseError as error:
            # The gateway acted on the refund (maybe refunded it) and the database went away before
            # that was recorded: the refund is saved as pending, and reconciliation will ask the
            # gateway again with the same key once the database is back. The staff member must
            # hear that, not see an error page that invites a second refund.
            logger.error("refund %s: the gateway answered %s; the database did not take it", refund.pk, answer.status)
            raise RefundUnrecorded(refund_id=refund.pk, amount=refund.amount, currency=refund.currency) from error


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
    if not actor.has_perm("refunds.execute_refund"):
        raise PermissionDenied("You do not have permission to refund payments.")
    locked = refund_rows_lock(payment_id=payment.pk).payment
    # Under the payment's lock, a second submit of the same form finds the first one's refund.
    existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.payment_id != locked.pk:
            raise RefundRefused("This form was already used for another payment; reload the page.")
        return existing, False
    # Under the payment's lock, which a dispute's news also takes: an open dispute is in view.
    if (dispute := payment_dispute_blocking_refunds(payment=locked)) is not None:
        raise RefundRefused(dispute.refund_refusal())

    note = note.strip()
    if problem := Refund.note_problem(reason=reason, note=note):
        raise RefundRefused(problem, field="note")
    refundable = payment_refundable(payment=locked)
    if expected_reserved is not None and refundable.reserved != expected_reserved:
        raise RefundStale(
            "Another refund on this payment was made while you were filling in this form: "
            f"{money_format(refundable.reserved, locked.currency)} is refunded or pending now, "
            f"{money_format(refundable.amount, locked.currency)} remains. Check the amount and submit again.",
            reserved=refundable.reserved,
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
    # A card refund Stripe would refuse in this currency (a fraction of an ISK, a third decimal of
    # KWD that is not 0) is refused here in words, before anything is reserved; the gateway checks
    # again before sending. A full refund of an old fractional ISK payment lands here too: Stripe's
    # advice is a partial refund rounded down to a whole króna.
    if type != Refund.Type.CREDITS and (problem := stripe_amount_problem(amount, locked.currency)):
        raise RefundRefused(problem, field="amount")
    if type == Refund.Type.CREDITS:
        credits_delta = credits_for_amount(payment=locked, amount=amount)
        if credits_delta <= 0:
            raise RefundRefused("This payment bought no credits, or the amount is worth less than one credit.")
    else:
        if credits_to_remove < 0:
            raise RefundRefused("Credits to remove cannot be negative.", field="credits_to_remove")
        if credits_to_remove > locked.credits_bought:
            raise RefundRefused(
                f"At most {locked.credits_bought:,} credits, what this payment bought, can be removed with it.",
                field="credits_to_remove",
            )
        credits_delta = -credits_to_remove

    # One customer's refunds are judged one at a time, each counting the others (two tabs, two
    # staff members, two payments): without this lock two could both pass under the threshold.
    advisory_xact_lock(CUSTOMER_REFUNDS_LOCKS, locked.user_id)
    judgement = refund_approval_judge(payment=locked, actor=actor, amount=amount)
    _daily_cap_check(actor=actor, currency=locked.currency, amount=amount)
    refund = Refund.objects.create(
        payment=locked,
        type=type,
        reason=reason,
        note=note,
        amount=amount,
        currency=locked.currency,
        idempotency_key=idempotency_key,
        correlation_id=correlation_id(),
        requested_by=actor,
        credits_delta=credits_delta,
        notify_customer=notify_customer,
        status=Refund.Status.AWAITING_APPROVAL if judgement.needs_approval else Refund.Status.PENDING,
        approval_rule=judgement.rule,
    )
    audit_record(
        action=RefundAction.REQUESTED,
        actor=actor,
        target_user=locked.user,
        about=refund,
        before={"amount_refunded": locked.amount_refunded, "reserved": refundable.reserved},
        after=refund_facts(refund) | ({"approval_rule": judgement.message()} if judgement.rule else {}),
    )
    return refund, True


SELF_REFUND_MESSAGE = (
    "This is your own account (same person, email or phone): you cannot refund its payments. Ask another staff member."
)


def refund_self_service_refuse(*, actor: User, customer: User, about: models.Model, message: str) -> None:
    """Record a staff member's attempt on their own account, in its own transaction (it must
    outlive the refusal), then refuse."""
    with transaction.atomic():
        audit_record(action=RefundAction.SELF_SERVICE_REFUSED, actor=actor, target_user=customer, about=about, after={})
    raise RefundRefused(message)


def daily_cap_used(*, actor: User, currency: str) -> int:
    """What `actor` asked to refund today (UTC), in `currency`, that holds money back."""
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return (
        Refund.objects.filter(
            requested_by=actor, currency=currency, created_at__gte=today, status__in=Refund.RESERVING
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )


def _daily_cap_check(*, actor: User, currency: str, amount: int) -> None:
    """One staff member may request at most the currency's daily cap (`limits.refund_daily_cap`:
    REFUND_DAILY_CAPS, else REFUND_DAILY_CAP) per currency per UTC day.

    Serialised per staff member with a transaction-level advisory lock, so that two refunds
    requested at the same moment on different payments cannot both slip under the cap.
    """
    advisory_xact_lock(DAILY_CAP_LOCKS, actor.pk)
    requested = daily_cap_used(actor=actor, currency=currency)
    cap = refund_daily_cap(currency=currency)
    if requested + amount > cap:
        raise RefundRefused(
            f"That would bring your refunds today to {money_format(requested + amount, currency)}, over the daily "
            f"limit of {money_format(cap, currency)} per staff member; "
            f"{money_format(max(cap - requested, 0), currency)} remains today. Ask another Finance colleague or an "
            "Administrator.",
            field="amount",
        )


def gateway_ask(refund: Refund) -> GatewayRefund | None:
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
            portal_refund_id=refund.pk,
            portal_staff_id=refund.requested_by_id,
            portal_request_id=refund.correlation_id,
        )
    except GatewayDeclined as declined:
        return GatewayRefund(id=refund.gateway_refund_id, status="failed", failure_reason=str(declined))
    except GatewayUnavailable as unavailable:
        logger.warning("refund %s: no answer from the gateway (%s); it stays pending", refund.pk, unavailable)
        return None
