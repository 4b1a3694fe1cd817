"""The Credits editor's service: `credits_adjust`, and every rule a credit change passes.

In order, refusing with nothing written (but an audit event for a refused self-service):
1. Permission (`payments.adjust_credits`), and no self-service: nobody changes the credits of an
   account that is their own (`User.is_same_person_as`: same user, email or phone).
2. The balance: not negative, not over CREDITS_MAX_BALANCE; the optimistic-concurrency check
   (`expected_balance`, under the customer's row lock); a change at all.
3. Support's limits (staff without `payments.adjust_credits_any_amount`): at most
   CREDITS_SUPPORT_MAX_CHANGE per edit, CREDITS_SUPPORT_DAILY_PER_CUSTOMER changed by hand on one
   customer per UTC day (by anyone: Support cannot add to what someone else already changed), and
   CREDITS_SUPPORT_DAILY_PER_STAFF changed by one Support member per UTC day on all customers.
   Sizes count either way (+500 then -500 is 1,000 changed).
4. Four-eyes: a change of more than CREDITS_APPROVAL_THRESHOLD credits, whoever asks, is not
   applied: it becomes a `CreditChangeRequest` for the Approvals page (`credit_requests`).

Locks: the customer's row (`select_for_update`) first, which serialises every change to that
customer (so the per-customer total cannot be passed by two edits at once), then the staff
member's day lock (`locks.CREDITS_STAFF_DAY_LOCKS`), which serialises one member's edits on
different customers. The totals are read only once both are held.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts.models import User
from audit.services import audit_record
from payments.audit import PaymentAction
from payments.models import CreditChangeRequest, LedgerEntry
from payments.selectors import credits_adjusted_today
from payments.services.ledger import CreditsConflict, CreditsRefused, ledger_append
from payments.services.locks import CREDITS_STAFF_DAY_LOCKS, advisory_xact_lock


class CreditsSelfService(CreditsRefused):
    """A staff member asked to change (or approve a change to) their own account's credits."""


SELF_SERVICE_MESSAGE = (
    "This is your own account (same person, email or phone): you cannot change its credits. Ask another staff member."
)


def credits_self_service_refuse(*, actor: User, customer: User, attempted: dict) -> None:
    """Record the refusal on the audit trail, in its own transaction (it must outlive the refusal),
    then refuse."""
    with transaction.atomic():
        audit_record(
            action=PaymentAction.CREDITS_SELF_SERVICE_REFUSED,
            actor=actor,
            target_user=customer,
            before={"credits": customer.credits},
            after=attempted,
        )
    raise CreditsSelfService(SELF_SERVICE_MESSAGE)


def credits_adjust(
    *, user: User, new_balance: int, expected_balance: int, actor: User, note: str = ""
) -> LedgerEntry | CreditChangeRequest:
    """Set a customer's credits to `new_balance`: one `adjustment` ledger entry, or, for a change
    over CREDITS_APPROVAL_THRESHOLD, a `CreditChangeRequest` waiting for a second staff member.

    Refused, writing nothing: see the module's rules. With `CreditsConflict`, a balance that is no
    longer `expected_balance` (the one the staff member saw when the page loaded): someone else
    changed it meanwhile, and saving over it would silently undo their change.
    """
    if not actor.has_perm("payments.adjust_credits"):
        raise PermissionDenied("You do not have permission to change credits.")
    if actor.is_same_person_as(user):
        credits_self_service_refuse(actor=actor, customer=user, attempted={"new_balance": new_balance})
    return _credits_adjust(
        user=user, new_balance=new_balance, expected_balance=expected_balance, actor=actor, note=note.strip()
    )


@transaction.atomic
def _credits_adjust(
    *, user: User, new_balance: int, expected_balance: int, actor: User, note: str
) -> LedgerEntry | CreditChangeRequest:
    if new_balance < 0:
        raise CreditsRefused("Credits cannot be negative.")
    if new_balance > settings.CREDITS_MAX_BALANCE:
        raise CreditsRefused(f"Credits can be at most {settings.CREDITS_MAX_BALANCE:,}.")
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.credits != expected_balance:
        last_entry = LedgerEntry.objects.filter(user=locked).select_related("actor").order_by("-id").first()
        raise CreditsConflict(current_balance=locked.credits, last_entry=last_entry)
    if new_balance == locked.credits:
        raise CreditsRefused(f"The balance is already {new_balance:,} credits; nothing to save.")
    change = abs(new_balance - locked.credits)
    if not actor.has_perm("payments.adjust_credits_any_amount"):
        _support_limits_check(customer=locked, actor=actor, change=change)

    before = locked.credits
    if change > settings.CREDITS_APPROVAL_THRESHOLD:
        request = CreditChangeRequest.objects.create(
            user=locked, balance_before=before, new_balance=new_balance, note=note, requested_by=actor
        )
        audit_record(
            action=PaymentAction.CREDITS_CHANGE_REQUESTED,
            actor=actor,
            target_user=locked,
            about=request,
            before={"credits": before},
            after={"new_balance": new_balance, "note": note},
        )
        return request

    entry = ledger_append(
        locked_user=locked,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        credits_delta=new_balance - locked.credits,
        actor=actor,
        note=note,
    )
    audit_record(
        action=PaymentAction.CREDITS_ADJUSTED,
        actor=actor,
        target_user=locked,
        about=entry,
        before={"credits": before},
        after={"credits": locked.credits, "note": entry.note},
    )
    user.credits = locked.credits
    return entry


def _support_limits_check(*, customer: User, actor: User, change: int) -> None:
    """Support's three limits; the caller holds the customer's row lock."""
    per_edit = settings.CREDITS_SUPPORT_MAX_CHANGE
    if change > per_edit:
        raise CreditsRefused(
            f"Your role can change credits by at most {per_edit:,} at a time; "
            "ask Finance or an Administrator for a larger change."
        )
    # The customer's row lock serialises the per-customer total; this one serialises the
    # staff member's edits on other customers, so two at once cannot both pass the daily limit.
    advisory_xact_lock(CREDITS_STAFF_DAY_LOCKS, actor.pk)
    per_customer = settings.CREDITS_SUPPORT_DAILY_PER_CUSTOMER
    on_customer = credits_adjusted_today(customer=customer)
    if on_customer + change > per_customer:
        raise CreditsRefused(
            f"That would bring the credits changed on this customer today to {on_customer + change:,}, over "
            f"the daily limit of {per_customer:,} per customer for your role; "
            f"{max(per_customer - on_customer, 0):,} remain today. Ask Finance or an Administrator."
        )
    per_staff = settings.CREDITS_SUPPORT_DAILY_PER_STAFF
    by_actor = credits_adjusted_today(actor=actor)
    if by_actor + change > per_staff:
        raise CreditsRefused(
            f"That would bring the credits you changed today to {by_actor + change:,}, over your daily "
            f"limit of {per_staff:,} per staff member; {max(per_staff - by_actor, 0):,} remain today. "
            "Ask Finance or an Administrator."
        )
