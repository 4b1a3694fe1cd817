"""Four-eyes on large credit changes: a `CreditChangeRequest` (made by `credits_adjust` for a
change over CREDITS_APPROVAL_THRESHOLD) is applied only when a second staff member with
`payments.approve_credit_change` approves it; a rejection, with a reason, closes it.

Never decided by the one who asked for it, nor by anyone whose own account it is (refused and
audited). The approval is the usual optimistic-concurrency check, done at approval time: the
change is applied only if the balance is still the one the requester saw; if it moved, the
approval is refused with the new balance (and audited), and the request stays waiting, to be
rejected.

Locks: the customer's row, then the request's row, in that order (the Credits editor locks only
the customer's row, so the two never deadlock); two approvers clicking at once decide it once.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from payments.audit import PaymentAction
from payments.models import CreditChangeRequest, LedgerEntry
from payments.services.credits import credits_self_service_refuse
from payments.services.ledger import CreditsRefused, ledger_append


@dataclass
class CreditChangeStale(CreditsRefused):
    """The balance moved since the change was requested; nothing was written."""

    current_balance: int
    balance_before: int

    def __str__(self) -> str:
        return (
            f"The balance moved since this change was requested: it is now {self.current_balance:,}, "
            f"not {self.balance_before:,}. Reject this change; the requester can ask again on the new balance."
        )


def _decision_prepare(*, change: CreditChangeRequest, decider: User, decision: str) -> None:
    """Checks that need no lock: the permission, and no self-service (audited)."""
    if not decider.has_perm("payments.approve_credit_change"):
        raise PermissionDenied("You do not have permission to approve credit changes.")
    if decider.is_same_person_as(change.user):
        credits_self_service_refuse(
            actor=decider, customer=change.user, attempted={"decision": decision, "credit_change": change.pk}
        )


def _decision_lock(*, change: CreditChangeRequest, decider: User) -> tuple[User, CreditChangeRequest]:
    customer = User.objects.select_for_update().get(pk=change.user_id)
    locked = CreditChangeRequest.objects.select_for_update().select_related("requested_by").get(pk=change.pk)
    if locked.status != CreditChangeRequest.Status.AWAITING_APPROVAL:
        raise CreditsRefused(
            f"This credit change is no longer waiting for approval: it is {locked.get_status_display()}."
        )
    if locked.requested_by_id == decider.pk:
        raise CreditsRefused("You asked for this credit change, so another staff member must approve or reject it.")
    locked.user = customer
    return customer, locked


def credit_change_approve(*, change: CreditChangeRequest, approver: User) -> CreditChangeRequest:
    """Approve a large credit change and apply it, as one `adjustment` entry in the requester's
    name, if the balance is still the one they saw; otherwise refuse with `CreditChangeStale`."""
    _decision_prepare(change=change, decider=approver, decision="approve")
    try:
        return _credit_change_apply(change=change, approver=approver)
    except CreditChangeStale as stale:
        with transaction.atomic():
            audit_record(
                action=PaymentAction.CREDITS_CHANGE_STALE,
                actor=approver,
                target_user=change.user,
                about=change,
                before={"credits": stale.balance_before},
                after={"credits": stale.current_balance, "new_balance": change.new_balance},
            )
        raise


@transaction.atomic
def _credit_change_apply(*, change: CreditChangeRequest, approver: User) -> CreditChangeRequest:
    customer, locked = _decision_lock(change=change, decider=approver)
    if customer.credits != locked.balance_before:
        raise CreditChangeStale(current_balance=customer.credits, balance_before=locked.balance_before)
    entry = ledger_append(
        locked_user=customer,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        credits_delta=locked.credits_delta,
        actor=locked.requested_by,
        note=locked.note,
    )
    locked.status = CreditChangeRequest.Status.APPROVED
    locked.decided_by = approver
    locked.decided_at = timezone.now()
    locked.ledger_entry = entry
    locked.save(update_fields=["status", "decided_by", "decided_at", "ledger_entry"])
    audit_record(
        action=PaymentAction.CREDITS_CHANGE_APPROVED,
        actor=approver,
        target_user=customer,
        about=entry,
        before={"credits": locked.balance_before},
        after={"credits": customer.credits, "credit_change": locked.pk, "requested_by": locked.requested_by_id},
    )
    return locked


def credit_change_reject(*, change: CreditChangeRequest, approver: User, reason: str) -> CreditChangeRequest:
    """Reject a large credit change waiting for approval, with a reason; nothing is applied."""
    reason = reason.strip()
    if not reason:
        raise CreditsRefused("Say why the credit change is rejected.")
    _decision_prepare(change=change, decider=approver, decision="reject")
    with transaction.atomic():
        customer, locked = _decision_lock(change=change, decider=approver)
        locked.status = CreditChangeRequest.Status.REJECTED
        locked.decided_by = approver
        locked.decided_at = timezone.now()
        locked.rejection_reason = reason
        locked.save(update_fields=["status", "decided_by", "decided_at", "rejection_reason"])
        audit_record(
            action=PaymentAction.CREDITS_CHANGE_REJECTED,
            actor=approver,
            target_user=customer,
            about=locked,
            before={"credits": customer.credits},
            after={"new_balance": locked.new_balance, "rejection_reason": reason},
        )
    return locked
