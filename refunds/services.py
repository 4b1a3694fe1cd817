"""Giving money back: the refund service, in the phases of DESIGN.md.

1. Reserve (one transaction): lock the payment, check the amount against what remains (pending
   refunds count as taken), insert the refund `pending` with its idempotency key.
2. Ask the gateway, outside any transaction, with that key (a retry is a replay at Stripe).
3. Record the answer (one transaction): succeeded → ledger entry, payment totals, credits, SMS;
   a definite no → failed, the reservation released; no answer → still pending, reconciled later.

Locks are always taken in the order payment → refund → user, so two refunds, or a refund and a
credits change, can wait for each other but never deadlock.
"""

import hashlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from core.money import money_format
from notifications.services import customer_notify
from payments.gateway import GatewayDeclined, GatewayRefund, GatewayUnavailable, gateway_for, stripe_refund_answer
from payments.models import GatewayEvent, LedgerEntry, Payment
from payments.services import ledger_append, payment_record_from_gateway
from refunds.audit import RefundAction
from refunds.models import Refund

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
    # Every submit of one form (double click, retry, second tab) takes the same lock first, so a
    # duplicate waits for the first to finish all three phases and then shows the same outcome.
    with _advisory_lock(_IDEMPOTENCY_LOCKS, idempotency_key):
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
        return _refund_carry_out(refund)


# Advisory-lock namespaces: one form's submits (its idempotency key); one refund's gateway call.
_IDEMPOTENCY_LOCKS = 0x5EF2
_REFUND_LOCKS = 0x5EF0


@contextmanager
def _advisory_lock(namespace: int, key: int | str, *, wait: bool = True) -> Iterator[bool]:
    """A session-level advisory lock on (namespace, key), held outside any transaction so that it
    spans a refund's phases. Yields whether this session holds it: with `wait=False`, False at
    once when another session does. A string key is hashed by PostgreSQL."""
    if connection.in_atomic_block:
        raise RuntimeError("This lock spans the refund's phases; take it outside any transaction.")
    key_sql = "hashtext(%s)" if isinstance(key, str) else "%s"
    function = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, {key_sql})", [namespace, key])
        held = cursor.fetchone()[0] is not False  # pg_advisory_lock returns nothing: it waited
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT pg_advisory_unlock(%s, {key_sql})", [namespace, key])


def _refund_carry_out(refund: Refund) -> Refund:
    """Phases 2 and 3 for a refund that is pending and may go ahead, holding the refund's lock so
    that reconciliation skips it while its request is at the gateway."""
    with _advisory_lock(_REFUND_LOCKS, refund.pk):
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
    if not actor.has_perm("refunds.execute_refund"):
        raise PermissionDenied("You do not have permission to refund payments.")
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    # Under the payment's lock, a second submit of the same form finds the first one's refund.
    existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.payment_id != locked.pk:
            raise RefundRefused("This form was already used for another payment; reload the page.")
        return existing, False

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

    _daily_cap_check(actor=actor, currency=locked.currency, amount=amount)
    needs_approval = amount > settings.REFUND_APPROVAL_THRESHOLD
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
        status=Refund.Status.AWAITING_APPROVAL if needs_approval else Refund.Status.PENDING,
    )
    audit_record(
        action=RefundAction.REQUESTED,
        actor=actor,
        target_user=locked.user,
        about=refund,
        before={"amount_refunded": locked.amount_refunded, "reserved": refundable.reserved},
        after=_refund_facts(refund),
    )
    return refund, True


def _refund_facts(refund: Refund) -> dict:
    return {
        "amount": refund.amount,
        "currency": refund.currency,
        "type": refund.type,
        "reason": refund.reason,
        "status": refund.status,
        "credits_delta": refund.credits_delta,
        "payment": refund.payment.gateway_id,
    }


def _daily_cap_check(*, actor: User, currency: str, amount: int) -> None:
    """One staff member may request at most REFUND_DAILY_CAP per currency per UTC day.

    Serialised per staff member with a transaction-level advisory lock, so that two refunds
    requested at the same moment on different payments cannot both slip under the cap.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x5EF1, actor.pk])
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    requested = (
        Refund.objects.filter(
            requested_by=actor, currency=currency, created_at__gte=today, status__in=Refund.RESERVING
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    cap = settings.REFUND_DAILY_CAP
    if requested + amount > cap:
        raise RefundRefused(
            f"That would bring your refunds today to {money_format(requested + amount, currency)}, over the daily "
            f"limit of {money_format(cap, currency)} per staff member. Ask another Finance colleague or an "
            "Administrator.",
            field="amount",
        )


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
def refund_record_answer(*, refund: Refund, answer: GatewayRefund, by: str = "") -> Refund:
    """Phase 3: move a pending refund to what the gateway said, once.

    A refund already settled (by a webhook, by reconciliation, by the request that made it) is
    left as it is, so answers can arrive in any order and any number of times. `by` names the
    system that brought the answer ("Stripe", "Reconciliation") for the audit trail; without it,
    the staff member who asked for the refund is its actor.
    """
    payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
    locked = Refund.objects.select_for_update().get(pk=refund.pk)
    if answer.id and not locked.gateway_refund_id:
        locked.gateway_refund_id = answer.id
    if locked.status not in Refund.UNSETTLED:
        locked.save(update_fields=["gateway_refund_id", "updated_at"])
        return locked
    previous_status = locked.status

    if answer.status == "succeeded":
        _refund_succeed(refund=locked, payment=payment)
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
            after=_refund_facts(locked) | {"failure_reason": locked.failure_reason, "gateway_refund_id": answer.id},
        )
    return locked


def _refund_succeed(*, refund: Refund, payment: Payment) -> None:
    customer = User.objects.select_for_update().get(pk=payment.user_id)
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
    amount = money_format(refund.amount, refund.currency)
    if refund.type == Refund.Type.CREDITS:
        return f"StatStak Labs: {amount} from your payment was added to your account as {refund.credits_delta} credits."
    return (
        f"StatStak Labs: we refunded {amount} to your original payment method. "
        "It can take 5-10 business days to appear on your statement."
    )


# After the request: what the gateway says later (webhooks, reconciliation) and refunds made
# elsewhere. Every answer goes through the same locks (payment → refund → user) as the request.


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
    payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
    locked = Refund.objects.select_for_update().get(pk=refund.pk)
    if locked.status != Refund.Status.SUCCEEDED or locked.type == Refund.Type.CREDITS:
        return locked
    customer = User.objects.select_for_update().get(pk=payment.user_id)

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
    amount = money_format(refund.amount, refund.currency)
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
    Payment.objects.select_for_update().filter(pk=refund.payment_id).first()  # payment → refund, as everywhere
    locked = Refund.objects.select_for_update().get(pk=refund.pk)
    if locked.status == Refund.Status.SUCCEEDED and answer.status in (Refund.Status.FAILED, Refund.Status.CANCELED):
        return refund_reverse(refund=locked, failure_reason=answer.failure_reason)
    settled_elsewise = answer.status in ("succeeded", "failed", "canceled") and answer.status != locked.status
    if locked.status not in Refund.UNSETTLED and settled_elsewise:
        # An older notice overtaken by a newer one, or a contradiction a person should look at.
        logger.warning("refund %s is %s; the gateway's %r answer is ignored", locked.pk, locked.status, answer.status)
    return refund_record_answer(refund=locked, answer=answer, by="Stripe")


def _external_idempotency_key(gateway_refund_id: str) -> str:
    key = f"external:{gateway_refund_id}"
    return key if len(key) <= 64 else "external:" + hashlib.sha256(gateway_refund_id.encode()).hexdigest()[:55]


@transaction.atomic
def refund_external_record(*, payment: Payment, answer: GatewayRefund, amount: int, reason: str = "") -> Refund:
    """Record a refund made at the gateway without the portal (in the Stripe Dashboard, say), so
    that the ledger matches the gateway.

    It is entered like any refund in its status (a succeeded one: ledger entry, payment totals),
    with no one as its author, no credits taken back and no SMS: nobody here decided it, and
    whoever made it dealt with the customer. Recorded once per gateway refund id.
    """
    if amount <= 0:
        raise ValueError("A refund's amount must be positive.")
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    existing = Refund.objects.filter(gateway_refund_id=answer.id).first()
    if existing is not None:
        return refund_gateway_update(refund=existing, answer=answer)
    remaining = payment_refundable(payment=locked).amount
    known_reasons = (Refund.Reason.REQUESTED_BY_CUSTOMER, Refund.Reason.DUPLICATE, Refund.Reason.FRAUDULENT)
    refund = Refund.objects.create(
        payment=locked,
        type=Refund.Type.FULL if amount >= remaining else Refund.Type.PARTIAL,
        reason=reason if reason in known_reasons else Refund.Reason.REQUESTED_BY_CUSTOMER,
        note="Refunded outside the portal",
        amount=amount,
        currency=locked.currency,
        source=Refund.Source.EXTERNAL,
        gateway_refund_id=answer.id,
        idempotency_key=_external_idempotency_key(answer.id),
        requested_by=None,
        credits_delta=0,
        notify_customer=False,
    )
    logger.info("refund %s (%s) made outside the portal recorded on payment %s", refund.pk, answer.id, locked.pk)
    audit_record(
        action=RefundAction.EXTERNAL,
        actor_label="Stripe",
        target_user=locked.user,
        about=refund,
        after=_refund_facts(refund) | {"gateway_refund_id": answer.id},
    )
    return refund_record_answer(refund=refund, answer=answer, by="Stripe")


# Stripe's webhook events the portal acts on. Since API version 2024-10-28 every refund sends
# refund.created/updated/failed with the Refund itself; charge.refunded carries the refunds only
# in older versions (its `refunds` list), and is handled when it does.
STRIPE_REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed"})
STRIPE_PAYMENT_EVENTS = frozenset({"charge.succeeded", "payment_intent.succeeded"})
STRIPE_EVENTS = STRIPE_REFUND_EVENTS | STRIPE_PAYMENT_EVENTS | {"charge.refunded"}


def _stripe_id(value: Any) -> str:
    """An id field that may be expanded into its object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _stripe_payment(stripe_object: Mapping[str, Any]) -> Payment | None:
    ids = [i for i in (_stripe_id(stripe_object.get("payment_intent")), _stripe_id(stripe_object.get("charge"))) if i]
    return Payment.objects.filter(gateway=Payment.Gateway.STRIPE, gateway_id__in=ids).first() if ids else None


def _stripe_portal_refund(stripe_refund: Mapping[str, Any]) -> Refund | None:
    """Our refund that a Stripe refund is, by its id or, before we stored the id, by its metadata."""
    refund = Refund.objects.filter(gateway_refund_id=stripe_refund["id"]).first()
    if refund is not None:
        return refund
    portal_id = str((stripe_refund.get("metadata") or {}).get("portal_refund_id", ""))
    if not portal_id.isdigit():
        return None
    candidate = Refund.objects.select_related("payment").filter(pk=int(portal_id), gateway_refund_id="").first()
    # The metadata must agree with the payment: another account's refund, or a second refund made
    # with our metadata once the idempotency key had expired, is not this one.
    if candidate is None or candidate.payment.gateway != Payment.Gateway.STRIPE:
        return None
    payment_ids = {_stripe_id(stripe_refund.get("payment_intent")), _stripe_id(stripe_refund.get("charge"))}
    return candidate if candidate.payment.gateway_id in payment_ids else None


def _stripe_refund_apply(stripe_refund: Mapping[str, Any]) -> str:
    answer = stripe_refund_answer(stripe_refund)
    refund = _stripe_portal_refund(stripe_refund)
    if refund is not None:
        before = refund.status
        refund = refund_gateway_update(refund=refund, answer=answer)
        return f"refund {refund.pk}: {before} → {refund.status}"
    payment = _stripe_payment(stripe_refund)
    if payment is None:
        return f"ignored: refund {answer.id} is on a payment the portal does not know"
    if answer.status in ("failed", "canceled"):
        return f"ignored: refund {answer.id} made outside the portal is {answer.status}; no money moved"
    amount = stripe_refund.get("amount")
    if not isinstance(amount, int) or amount <= 0:
        return f"ignored: refund {answer.id} has no amount"
    refund = refund_external_record(
        payment=payment, answer=answer, amount=amount, reason=str(stripe_refund.get("reason") or "")
    )
    return f"refund {refund.pk}: recorded from outside the portal ({refund.status})"


def _stripe_payment_apply(event_type: str, stripe_object: Mapping[str, Any]) -> str:
    metadata = stripe_object.get("metadata") or {}
    user_id = str(metadata.get("portal_user_id", ""))
    credits = str(metadata.get("credits", "0")).strip()
    if not user_id.isdigit():
        return "ignored: not a portal customer's payment"
    if not credits.isdigit():
        return f"ignored: credits {credits!r} is not a whole number"
    if not User.objects.filter(pk=int(user_id)).exists():
        return f"ignored: no customer {user_id}"
    if event_type == "charge.succeeded":
        # A charge of a PaymentIntent is recorded under the intent, so that its two events make one payment.
        gateway_id = _stripe_id(stripe_object.get("payment_intent")) or stripe_object["id"]
        amount = stripe_object.get("amount_captured") or stripe_object.get("amount")
    else:
        gateway_id = stripe_object["id"]
        amount = stripe_object.get("amount_received") or stripe_object.get("amount")
    currency = str(stripe_object.get("currency") or "")
    if not isinstance(amount, int) or amount <= 0 or len(currency) != 3:
        return f"ignored: payment {gateway_id} has no amount or currency"
    created = stripe_object.get("created")
    payment, was_new = payment_record_from_gateway(
        user_id=int(user_id),
        gateway=Payment.Gateway.STRIPE,
        gateway_id=gateway_id,
        amount=amount,
        currency=currency,
        credits_bought=int(credits),
        description=str(stripe_object.get("description") or metadata.get("description") or ""),
        created_at=datetime.fromtimestamp(created, tz=UTC) if isinstance(created, int) else None,
    )
    return f"payment {payment.pk}: {'recorded' if was_new else 'already recorded'}"


def stripe_event_process(*, event: Mapping[str, Any]) -> str:
    """Act on one verified Stripe webhook event, once; return what it did, in a few words.

    The event's id is stored (`GatewayEvent`) in the same transaction as its effect: a replay
    finds it and changes nothing, two deliveries at once wait for each other on its unique key,
    and an error rolls both back, so Stripe's retry is processed as the first delivery.
    Events the portal does not act on are not stored.
    """
    event_type = event["type"]
    stripe_object = event["data"]["object"]
    if event_type not in STRIPE_EVENTS:
        return f"ignored: {event_type} is not an event the portal acts on"
    with transaction.atomic():
        record, created = GatewayEvent.objects.get_or_create(
            gateway=Payment.Gateway.STRIPE,
            event_id=event["id"],
            defaults={"type": event_type, "object_id": _stripe_id(stripe_object)[:255]},
        )
        if not created:
            return "already processed"
        if event_type in STRIPE_REFUND_EVENTS:
            outcome = _stripe_refund_apply(stripe_object)
        elif event_type == "charge.refunded":
            refunds = (stripe_object.get("refunds") or {}).get("data") or []
            outcome = "; ".join(_stripe_refund_apply(r) for r in refunds if isinstance(r, Mapping) and r.get("id"))
            outcome = outcome or "nothing: the event lists no refunds (their refund.* events carry them)"
        else:
            outcome = _stripe_payment_apply(event_type, stripe_object)
        record.outcome = outcome[:255]
        record.save(update_fields=["outcome"])
    logger.info("Stripe event %s (%s): %s", event["id"], event_type, outcome)
    return outcome


# Reconciliation: refunds left pending (no answer from the gateway, a worker that died between
# the phases, a refund the bank is still processing) are asked about again until they settle.

# Stripe keeps an idempotency key's first answer for at least 24 hours. After that, sending the
# create call again could make a second refund, so an older refund with no gateway id is left
# to a person (and to the refund.* webhooks, which find it by its metadata).
RECONCILE_RESEND_WITHIN = timedelta(hours=23)


@dataclass(frozen=True)
class RefundReconciled:
    refund_id: int
    before: str
    after: str
    note: str = ""

    @property
    def changed(self) -> bool:
        return self.before != self.after


def refund_reconcile(*, refund: Refund) -> RefundReconciled:
    """Ask the gateway again about one unsettled refund, and record what it says.

    With a gateway refund id, the refund is looked up; without one, the create call is sent again
    with the same idempotency key and parameters, so Stripe replays its first answer, or makes
    the refund now if the first request never arrived. The refund is claimed with its advisory
    lock first: one held elsewhere (the request still at the gateway, another worker) is skipped.
    """
    if connection.in_atomic_block:
        raise RuntimeError("Reconciliation calls the gateway; it must not run inside a transaction.")
    with _advisory_lock(_REFUND_LOCKS, refund.pk, wait=False) as claimed:
        if not claimed:
            return RefundReconciled(refund.pk, refund.status, refund.status, "being worked on elsewhere; skipped")
        refund = Refund.objects.select_related("payment").get(pk=refund.pk)
        before = refund.status
        if before not in Refund.UNSETTLED:
            return RefundReconciled(refund.pk, before, before, "already settled")
        answer: GatewayRefund | None
        note = ""
        if refund.type == Refund.Type.CREDITS:
            answer = GatewayRefund(id="", status="succeeded")  # no gateway: finish what the request began
        elif refund.gateway_refund_id:
            try:
                answer = gateway_for(refund.payment.gateway).retrieve_refund(refund_id=refund.gateway_refund_id)
            except (GatewayUnavailable, GatewayDeclined) as error:
                logger.warning("refund %s: no answer from the gateway (%s); still %s", refund.pk, error, before)
                answer, note = None, "no answer from the gateway"
        elif (refund.decided_at or refund.created_at) < timezone.now() - RECONCILE_RESEND_WITHIN:
            # Measured from when the key was first used: approval, for a refund that waited for it.
            logger.error("refund %s: pending with no gateway id for over a day; a person must check", refund.pk)
            answer, note = None, "too old to send again safely; check at the gateway"
        else:
            answer = _gateway_ask(refund)
            note = "" if answer is not None else "no answer from the gateway"
        if answer is None:
            return RefundReconciled(refund.pk, before, before, note)
        refund = refund_record_answer(refund=refund, answer=answer, by="Reconciliation")
        if refund.status == Refund.Status.FAILED and refund.failure_reason:
            note = refund.failure_reason
        return RefundReconciled(refund.pk, before, refund.status, note)


def refunds_reconcile(*, older_than: timedelta | None = None, limit: int = 500) -> list[RefundReconciled]:
    """Reconcile every refund still unsettled `older_than` (default RECONCILE_AFTER_SECONDS) after
    it was made, oldest first; younger ones are probably still in their request. Run it again
    and it changes nothing that the gateway has not changed meanwhile."""
    if older_than is None:
        older_than = timedelta(seconds=settings.RECONCILE_AFTER_SECONDS)
    unsettled = Refund.objects.filter(
        status__in=Refund.UNSETTLED, created_at__lte=timezone.now() - older_than
    ).order_by("created_at", "id")[:limit]
    if connection.in_atomic_block:
        raise RuntimeError("Reconciliation calls the gateway; it must not run inside a transaction.")
    results = []
    for refund in list(unsettled):
        try:
            results.append(refund_reconcile(refund=refund))
        except Exception:
            # One refund that cannot be settled must not stop the others, every five minutes.
            logger.exception("refund %s: reconciliation failed; the others go on", refund.pk)
            results.append(RefundReconciled(refund.pk, refund.status, refund.status, "reconciliation failed; see logs"))
    return results


# Maker-checker: a refund over REFUND_APPROVAL_THRESHOLD is created `awaiting_approval` (its
# amount reserved) and goes ahead only when another staff member with `refunds.approve_refund`
# approves it.


def _decision_check(*, refund: Refund, decider: User) -> None:
    if not decider.has_perm("refunds.approve_refund"):
        raise PermissionDenied("You do not have permission to approve refunds.")
    if refund.status != Refund.Status.AWAITING_APPROVAL:
        raise RefundRefused(f"This refund is no longer waiting for approval: it is {refund.get_status_display()}.")
    if refund.requested_by_id == decider.pk:
        raise RefundRefused("You asked for this refund, so another staff member must approve or reject it.")


def refund_approve(*, refund: Refund, approver: User) -> Refund:
    """Approve a refund waiting for a second staff member, then carry it out (phases 2 and 3).

    Two approvers clicking at once: the second finds it no longer waiting, so it runs once.
    """
    with transaction.atomic():
        Payment.objects.select_for_update().get(pk=refund.payment_id)
        locked = Refund.objects.select_for_update().select_related("payment__user").get(pk=refund.pk)
        _decision_check(refund=locked, decider=approver)
        locked.status = Refund.Status.PENDING
        locked.decided_by = approver
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
        audit_record(
            action=RefundAction.APPROVED,
            actor=approver,
            target_user=locked.payment.user,
            about=locked,
            before={"status": Refund.Status.AWAITING_APPROVAL},
            after=_refund_facts(locked) | {"requested_by": locked.requested_by_id},
        )
    return _refund_carry_out(locked)


@transaction.atomic
def refund_reject(*, refund: Refund, approver: User, reason: str) -> Refund:
    """Reject a refund waiting for approval, with a reason; its reserved amount is released."""
    reason = reason.strip()
    if not reason:
        raise RefundRefused("Say why the refund is rejected.", field="reason")
    Payment.objects.select_for_update().get(pk=refund.payment_id)
    locked = Refund.objects.select_for_update().select_related("payment__user").get(pk=refund.pk)
    _decision_check(refund=locked, decider=approver)
    locked.status = Refund.Status.REJECTED
    locked.decided_by = approver
    locked.decided_at = timezone.now()
    locked.rejection_reason = reason
    locked.save(update_fields=["status", "decided_by", "decided_at", "rejection_reason", "updated_at"])
    audit_record(
        action=RefundAction.REJECTED,
        actor=approver,
        target_user=locked.payment.user,
        about=locked,
        before={"status": Refund.Status.AWAITING_APPROVAL},
        after=_refund_facts(locked) | {"rejection_reason": reason},
    )
    return locked
