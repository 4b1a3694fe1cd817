"""Acting on the gateway's webhook notices: refunds moved on, refunds made outside the portal
recorded, payments made elsewhere (a checkout on the website) entered in the ledger, disputes
recorded on their payment (`payments.services.dispute_record_from_notice`).

Each event is acted on once: its id is stored (`GatewayEvent`) in the same transaction as its
effect, so a replay changes nothing and an error rolls both back. A notice about one of our
refunds goes through `settle` (answers in any order, any number of times); one about a refund
the portal did not make is recorded like any refund, with no one as its author.

Locks, inside the event's one transaction: the event's unique key first (a second delivery of it
waits there), then the rows, payment → refund → user (`locks.refund_rows_lock`); a payment notice
locks only its customer's row; a dispute notice, payment → user. No advisory lock: nothing here
calls the gateway.

An event written in an API version older than the handlers need is acted on all the same, its
version stored with it (the health check and the Books page report it) and its log line a warning
that says what is missed.
"""

import hashlib
import logging
from collections.abc import Mapping
from typing import Any, assert_never

from django.db import transaction

from audit.services import audit_record
from payments.gateway import (
    DisputeNotice,
    GatewayEventNotice,
    GatewayRefund,
    Notice,
    NoticeIgnored,
    PaymentNotice,
    RefundNotice,
    stripe_event_notice,
)
from payments.models import GatewayEvent, Payment
from payments.services import dispute_record_from_notice, payment_record_from_notice
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


def _portal_refund(notice: RefundNotice, *, gateway: str) -> Refund | None:
    """Our refund that a gateway refund is, by its id or, before we stored the id, by the portal's
    refund id it carries."""
    refund = Refund.objects.filter(gateway_refund_id=notice.gateway_refund_id).first()
    if refund is not None:
        return refund
    if notice.portal_refund_id is None:
        return None
    candidate = (
        Refund.objects.select_related("payment").filter(pk=notice.portal_refund_id, gateway_refund_id="").first()
    )
    # The portal's id must agree with the payment: another account's refund, or a second refund
    # made with our id once the idempotency key had expired, is not this one.
    if candidate is None or candidate.payment.gateway != gateway:
        return None
    return candidate if candidate.payment.gateway_id in notice.payment_gateway_ids else None


def _refund_notice_apply(notice: RefundNotice, *, gateway: str) -> str:
    answer = notice.answer
    refund = _portal_refund(notice, gateway=gateway)
    if refund is not None:
        before = refund.status
        refund = refund_gateway_update(refund=refund, answer=answer)
        return f"refund {refund.pk}: {before} → {refund.status}"
    ids = notice.payment_gateway_ids
    payment = Payment.objects.filter(gateway=gateway, gateway_id__in=ids).first() if ids else None
    if payment is None:
        return f"ignored: refund {answer.id} is on a payment the portal does not know"
    if answer.status in ("failed", "canceled"):
        return f"ignored: refund {answer.id} made outside the portal is {answer.status}; no money moved"
    if notice.amount is None:
        return f"ignored: refund {answer.id} has no amount"
    if notice.amount > payment.amount - payment.amount_refunded:
        # Not a refund Stripe could have made on this payment: recording it would break the
        # payment's totals (a check refuses it). The drift report shows it to a person.
        return f"ignored: refund {answer.id} is more than remains on payment {payment.pk}"
    refund = refund_external_record(payment=payment, answer=answer, amount=notice.amount, reason=notice.reason)
    return f"refund {refund.pk}: recorded from outside the portal ({refund.status})"


def _notice_apply(notice: Notice, *, gateway: str) -> str:
    match notice:
        case RefundNotice():
            return _refund_notice_apply(notice, gateway=gateway)
        case PaymentNotice():
            return payment_record_from_notice(notice=notice)
        case DisputeNotice():
            return dispute_record_from_notice(notice=notice, gateway=gateway)
        case NoticeIgnored():
            return notice.outcome
        case _:
            assert_never(notice)


def gateway_event_process(*, event: GatewayEventNotice) -> str:
    """Act on one verified webhook event from the gateway, once; return what it did, in a few words.

    The event's id is stored (`GatewayEvent`) in the same transaction as its effect: a replay
    finds it and changes nothing, two deliveries at once wait for each other on its unique key,
    and an error rolls both back, so the gateway's retry is processed as the first delivery.
    Events the portal does not act on are not stored.
    """
    if not event.acted_on:
        return f"ignored: {event.type} is not an event the portal acts on"
    with transaction.atomic():
        record, created = GatewayEvent.objects.get_or_create(
            gateway=event.gateway,
            event_id=event.event_id,
            defaults={"type": event.type, "object_id": event.object_id[:255], "api_version": event.api_version},
        )
        if not created:
            return "already processed"
        outcome = "; ".join(_notice_apply(notice, gateway=event.gateway) for notice in event.notices)
        record.outcome = outcome[:255]
        record.save(update_fields=["outcome"])
    # One line per event; a warning when it was unusable or written in an outdated API version.
    label = Payment.Gateway(event.gateway).label
    if outdated := event.api_version_outdated:
        logger.warning("%s event %s (%s): %s. %s", label, event.event_id, event.type, outcome, outdated)
    elif "unusable:" in outcome:
        logger.warning("%s event %s (%s): %s", label, event.event_id, event.type, outcome)
    else:
        logger.info("%s event %s (%s): %s", label, event.event_id, event.type, outcome)
    return outcome


def stripe_event_process(*, event: Mapping[str, Any]) -> str:
    """Act on one verified Stripe webhook event (`payments.gateway.webhook_event`), once: the
    gateway turns it into notices, `gateway_event_process` acts on them. Returns what it did."""
    return gateway_event_process(event=stripe_event_notice(event))
