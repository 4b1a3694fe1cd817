"""Acting on the gateway's webhook notices: refunds moved on, refunds made outside the portal
recorded, payments made elsewhere (a checkout on the website) entered in the ledger.

Each event is acted on once: its id is stored (`GatewayEvent`) in the same transaction as its
effect, so a replay changes nothing and an error rolls both back. A notice about one of our
refunds goes through `settle` (answers in any order, any number of times); one about a refund
the portal did not make is recorded like any refund, with no one as its author.

Locks: the rows, payment → refund → user (`locks.refund_rows_lock`), inside the event's
transaction; no advisory lock (nothing here calls the gateway).
"""

import hashlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from accounts.models import User
from audit.services import audit_record
from payments.gateway import GatewayRefund, stripe_refund_answer
from payments.models import GatewayEvent, Payment
from payments.services import payment_record_from_gateway
from refunds.audit import RefundAction
from refunds.models import Refund
from refunds.services.locks import refund_rows_lock
from refunds.services.request import payment_refundable
from refunds.services.settle import refund_facts, refund_gateway_update, refund_record_answer

logger = logging.getLogger(__name__)


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
    locked = refund_rows_lock(payment_id=payment.pk).payment
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
        after=refund_facts(refund) | {"gateway_refund_id": answer.id},
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
