from dataclasses import dataclass

from django.conf import settings
from django.db import models, transaction

from accounts.models import User
from payments.models import LedgerEntry, Payment
from statstak.correlation import correlation_id


class CreditsRefused(ValueError):
    """The requested change is not allowed; nothing was written."""


@dataclass
class CreditsConflict(Exception):
    """The balance moved since the staff member loaded the page; nothing was written."""

    current_balance: int
    last_entry: LedgerEntry | None

    def __str__(self) -> str:
        return f"The balance is now {self.current_balance}."


def ledger_append(
    *,
    locked_user: User,
    kind: LedgerEntry.Kind,
    credits_delta: int,
    actor: User | None,
    note: str = "",
    money_delta: int | None = None,
    currency: str = "",
    payment: Payment | None = None,
    refund: models.Model | None = None,  # a refunds.Refund; payments does not import refunds
) -> LedgerEntry:
    """Write one ledger entry and move the user's cached balance with it, in the caller's transaction.

    The caller must hold the user's row lock (`select_for_update`) from the moment it read the
    balance it based its decision on: otherwise two writers could both compute from the same
    balance and one change would be lost.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger_append must run inside the caller's transaction.")
    balance_after = locked_user.credits + credits_delta
    if balance_after < 0:
        raise CreditsRefused(f"That would leave {balance_after} credits; a balance cannot go below 0.")
    entry = LedgerEntry.objects.create(
        user=locked_user,
        kind=kind,
        credits_delta=credits_delta,
        money_delta=money_delta,
        currency=currency,
        balance_after=balance_after,
        actor=actor,
        note=note,
        payment=payment,
        refund=refund,
        correlation_id=correlation_id(),
    )
    User.objects.filter(pk=locked_user.pk).update(credits=balance_after)
    locked_user.credits = balance_after
    return entry


@transaction.atomic
def credits_adjust(*, user: User, new_balance: int, expected_balance: int, actor: User, note: str = "") -> LedgerEntry:
    """Set a customer's credits to `new_balance`, as one `adjustment` ledger entry.

    Refused, writing nothing: a negative balance, one above `CREDITS_MAX_BALANCE`, no change at
    all, and, with `CreditsConflict`, a balance that is no longer `expected_balance` (the one the
    staff member saw when the page loaded): someone else changed it meanwhile, and saving over it
    would silently undo their change.
    """
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
    entry = ledger_append(
        locked_user=locked,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        credits_delta=new_balance - locked.credits,
        actor=actor,
        note=note.strip(),
    )
    user.credits = locked.credits
    return entry
