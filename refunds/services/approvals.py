"""Maker-checker: a refund over REFUND_APPROVAL_THRESHOLD is created `awaiting_approval` (its
amount reserved) and goes ahead only when another staff member with `refunds.approve_refund`
approves it; a rejection, with a reason, releases the amount.

Never the one who asked for it decides it, nor anyone whose own account it refunds (refused and
audited). The decision is taken under the rows' locks (payment →
refund → user, `locks.refund_rows_lock`), so two approvers clicking at once decide it once; an
approved refund is then carried out (phases 2 and 3) as the request would have, outside the
decision's transaction, under the refund's advisory lock.
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from payments.selectors import payment_dispute_blocking_refunds
from refunds.audit import RefundAction
from refunds.models import Refund
from refunds.services.locks import refund_rows_lock
from refunds.services.request import RefundRefused, refund_carry_out, refund_self_service_refuse
from refunds.services.settle import refund_facts


def _decision_check(*, refund: Refund, decider: User) -> None:
    if not decider.has_perm("refunds.approve_refund"):
        raise PermissionDenied("You do not have permission to approve refunds.")
    if refund.status != Refund.Status.AWAITING_APPROVAL:
        raise RefundRefused(f"This refund is no longer waiting for approval: it is {refund.get_status_display()}.")
    if refund.requested_by_id == decider.pk:
        raise RefundRefused("You asked for this refund, so another staff member must approve or reject it.")


SELF_DECISION_MESSAGE = (
    "This refund is to your own account (same person, email or phone): another staff member must approve or reject it."
)


def _self_service_check(*, refund: Refund, decider: User) -> None:
    """Nobody decides a refund that benefits their own account (refused, audited)."""
    customer = User.objects.get(pk=refund.payment.user_id)
    if decider.is_same_person_as(customer):
        refund_self_service_refuse(actor=decider, customer=customer, about=refund, message=SELF_DECISION_MESSAGE)


def refund_approve(*, refund: Refund, approver: User) -> Refund:
    """Approve a refund waiting for a second staff member, then carry it out (phases 2 and 3).

    Two approvers clicking at once: the second finds it no longer waiting, so it runs once.
    """
    _self_service_check(refund=refund, decider=approver)
    with transaction.atomic():
        locked = refund_rows_lock(payment_id=refund.payment_id, refund_id=refund.pk, customer=True).refund
        _decision_check(refund=locked, decider=approver)
        # A dispute opened while the refund waited: Stripe would refuse it; it stays waiting, to be
        # rejected or approved once the dispute is won.
        if (dispute := payment_dispute_blocking_refunds(payment=locked.payment)) is not None:
            raise RefundRefused(dispute.refund_refusal())
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
            after=refund_facts(locked) | {"requested_by": locked.requested_by_id},
        )
    return refund_carry_out(locked)


def refund_reject(*, refund: Refund, approver: User, reason: str) -> Refund:
    """Reject a refund waiting for approval, with a reason; its reserved amount is released."""
    reason = reason.strip()
    if not reason:
        raise RefundRefused("Say why the refund is rejected.", field="reason")
    _self_service_check(refund=refund, decider=approver)  # audited: outside the decision's transaction
    with transaction.atomic():
        return _refund_reject(refund=refund, approver=approver, reason=reason)


def _refund_reject(*, refund: Refund, approver: User, reason: str) -> Refund:
    locked = refund_rows_lock(payment_id=refund.payment_id, refund_id=refund.pk, customer=True).refund
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
        after=refund_facts(locked) | {"rejection_reason": reason},
    )
    return locked
