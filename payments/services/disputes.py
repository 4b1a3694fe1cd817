"""Disputes: a customer's bank disputing a payment, recorded as the gateway reports it.

The gateway boundary turns each of its dispute events into a `DisputeNotice` (the dispute as it
is now); `dispute_record_from_notice` applies it to the portal's `Dispute`:

- first news of a dispute creates it; later news moves it on (status, amount, reason, evidence
  due date, whether the gateway would still take a refund);
- news older than what was applied (the event's time before `reported_at`) changes nothing, and
  a closed dispute (won, lost, prevented, inquiry closed) never reopens: events arrive late, twice
  and out of order;
- the same news again (a replay under another event id) writes nothing;
- lost: one `dispute_lost` ledger entry, written with the status: the disputed amount out of the
  books (`money_delta` = -amount), and, when DISPUTE_LOST_CREDITS is "take_back", the credits
  bought with that share of the payment, capped at the customer's balance (audited; the customer
  texted when DISPUTE_LOST_SMS is on);
- every change audited with the gateway ("Stripe") as the actor.

While a dispute is open, and once it is lost, the payment cannot be refunded
(`Dispute.blocks_refunds`, checked by the refund service under the payment's lock).

Locks, in the caller's transaction: the payment's row first (a refund being reserved on the same
payment waits, so it is judged with the dispute in view), then, for a lost dispute, the customer's
row (`ledger_append`): payment → user, the order of every money writer.
"""

import logging

from django.conf import settings
from django.db import transaction

from accounts.models import User
from audit.services import audit_record
from core.money import money_format
from notifications.services import customer_notify
from payments.audit import PaymentAction
from payments.gateway import DisputeNotice
from payments.models import Dispute, LedgerEntry, Payment
from payments.services.ledger import ledger_append

logger = logging.getLogger(__name__)

# Who the audit trail says acted, per gateway.
_GATEWAY_ACTOR = {Payment.Gateway.STRIPE: "Stripe", Payment.Gateway.SANDBOX: "Sandbox"}

_FIELDS = ("status", "amount", "currency", "reason", "evidence_due_at", "charge_refundable")


def dispute_facts(dispute: Dispute) -> dict:
    """What the audit trail keeps of a dispute."""
    return {
        "gateway_dispute_id": dispute.gateway_dispute_id,
        "status": dispute.status,
        "amount": dispute.amount,
        "currency": dispute.currency,
        "reason": dispute.reason,
        "evidence_due_at": dispute.evidence_due_at.isoformat() if dispute.evidence_due_at else None,
        "charge_refundable": dispute.charge_refundable,
    }


def dispute_lost_sms_body(*, dispute: Dispute, credits: int) -> str:
    return (
        f"StatStak Labs: your bank returned your payment of {money_format(dispute.amount, dispute.currency)} to "
        f"you after a dispute, so the {credits:,} credits bought with it were removed from your account."
    )


@transaction.atomic
def dispute_record_from_notice(*, notice: DisputeNotice, gateway: str) -> str:
    """Apply the gateway's news of a dispute (see the module docstring); return what it did, in a
    few words, for the event's record."""
    actor = _GATEWAY_ACTOR.get(gateway, "Gateway")
    payment = Payment.objects.filter(gateway=gateway, gateway_id__in=notice.payment_gateway_ids).first()
    if payment is None:
        return f"ignored: dispute {notice.gateway_dispute_id} is on a payment the portal does not know"
    # The payment's row first: two deliveries about one dispute, and a refund reserved on the
    # payment, are decided one after the other.
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    dispute = Dispute.objects.filter(gateway_dispute_id=notice.gateway_dispute_id).first()
    if dispute is None:
        dispute = Dispute.objects.create(
            payment=locked,
            gateway_dispute_id=notice.gateway_dispute_id,
            opened_at=notice.opened_at,
            reported_at=notice.reported_at,
            **{field: getattr(notice, field) for field in _FIELDS if field != "status"},
            status=notice.status if notice.status != Dispute.Status.LOST else Dispute.Status.NEEDS_RESPONSE,
        )
        audit_record(
            action=PaymentAction.DISPUTE_OPENED,
            actor_label=actor,
            target_user=locked.user,
            about=dispute,
            after=dispute_facts(dispute) | {"status": notice.status},
        )
        if notice.status == Dispute.Status.LOST:  # first heard of when already lost
            return _dispute_lost(dispute=dispute, payment=locked, actor=actor)
        return f"dispute {dispute.pk}: opened ({dispute.status})"

    if dispute.payment_id != locked.pk:
        return f"ignored: dispute {notice.gateway_dispute_id} is recorded on another payment"
    if notice.reported_at < dispute.reported_at:
        return f"dispute {dispute.pk}: older news ignored"
    if not dispute.is_open and notice.status != dispute.status:
        logger.warning("dispute %s is %s; the gateway's later %r is ignored", dispute.pk, dispute.status, notice.status)
        return f"dispute {dispute.pk}: closed as {dispute.status}; {notice.status} ignored"
    before = dispute_facts(dispute)
    changed = [field for field in _FIELDS if getattr(dispute, field) != getattr(notice, field)]
    if not changed:
        return f"dispute {dispute.pk}: unchanged ({dispute.status})"
    lost = notice.status == Dispute.Status.LOST
    for field in _FIELDS:
        if field != "status" or not lost:  # a lost status is set with its ledger entry
            setattr(dispute, field, getattr(notice, field))
    dispute.reported_at = notice.reported_at
    dispute.save()
    if lost:
        return _dispute_lost(dispute=dispute, payment=locked, actor=actor, before=before)
    closed = not dispute.is_open
    audit_record(
        action=PaymentAction.DISPUTE_CLOSED if closed else PaymentAction.DISPUTE_UPDATED,
        actor_label=actor,
        target_user=locked.user,
        about=dispute,
        before=before,
        after=dispute_facts(dispute),
    )
    return f"dispute {dispute.pk}: {before['status']} → {dispute.status}"


def _dispute_lost(*, dispute: Dispute, payment: Payment, actor: str, before: dict | None = None) -> str:
    """The dispute lost: its ledger entry (the money, and the credits taken back per
    DISPUTE_LOST_CREDITS), its status, its audit events, and the customer told if asked."""
    before = before or dispute_facts(dispute)
    customer = User.objects.select_for_update().get(pk=payment.user_id)
    credits = 0
    if settings.DISPUTE_LOST_CREDITS == "take_back" and payment.credits_bought > 0:
        # The credits the disputed share of the payment bought (all of them when all of it is
        # disputed), never more than the customer still has: the balance cannot go below 0.
        bought = payment.credits_bought * min(dispute.amount, payment.amount) // payment.amount
        credits = min(bought, customer.credits)
    balance_before = customer.credits
    entry = ledger_append(
        locked_user=customer,
        kind=LedgerEntry.Kind.DISPUTE_LOST,
        credits_delta=-credits,
        money_delta=-dispute.amount,
        currency=dispute.currency,
        actor=None,
        note=f"Dispute {dispute.gateway_dispute_id} lost ({dispute.reason or 'no reason given'})",
        payment=payment,
    )
    dispute.status = Dispute.Status.LOST
    dispute.ledger_entry = entry
    dispute.credits_taken = credits
    dispute.save(update_fields=["status", "ledger_entry", "credits_taken", "updated_at"])
    audit_record(
        action=PaymentAction.DISPUTE_CLOSED,
        actor_label=actor,
        target_user=customer,
        about=dispute,
        before=before,
        after=dispute_facts(dispute) | {"money_delta": -dispute.amount, "credits_taken": credits},
    )
    if credits:
        audit_record(
            action=PaymentAction.DISPUTE_CREDITS_TAKEN,
            actor_label=actor,
            target_user=customer,
            about=dispute,
            before={"credits": balance_before},
            after={"credits": customer.credits, "credits_taken": credits},
        )
        if settings.DISPUTE_LOST_SMS:
            customer_notify(user=customer, about=dispute, text=dispute_lost_sms_body(dispute=dispute, credits=credits))
    logger.info("dispute %s lost on payment %s: entry %s, %s credits taken", dispute.pk, payment.pk, entry.pk, credits)
    return f"dispute {dispute.pk}: lost; {credits} credits taken back"
