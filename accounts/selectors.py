from dataclasses import dataclass

from django.conf import settings
from django.db.models.functions import Lower

from accounts.models import CustomerNote, User
from accounts.roles import ROLES
from accounts.services import staff_role
from core.money import money_format


def staff_limits(*, member: User) -> list[str]:
    """The money limits that hold a staff member, in words, for the Staff page. Permission names
    are strings here: accounts knows the rooms above it only by name. Refund limits are shown for
    US dollars (each currency has its own: README, "Settings")."""
    limits: list[str] = []
    if member.has_perm("payments.adjust_credits"):
        if member.has_perm("payments.adjust_credits_any_amount"):
            limits.append("Credits: no Support limits")
        else:
            limits.append(
                f"Credits: {settings.CREDITS_SUPPORT_MAX_CHANGE:,} an edit, "
                f"{settings.CREDITS_SUPPORT_DAILY_PER_CUSTOMER:,} a day per customer, "
                f"{settings.CREDITS_SUPPORT_DAILY_PER_STAFF:,} a day in all"
            )
        limits.append(f"changes over {settings.CREDITS_APPROVAL_THRESHOLD:,} credits need a second person")
    if member.has_perm("refunds.execute_refund"):
        # In US dollars; the other currencies have their own (REFUND_APPROVAL_THRESHOLDS, REFUND_DAILY_CAPS).
        usd_threshold = settings.REFUND_APPROVAL_THRESHOLDS.get("USD", settings.REFUND_APPROVAL_THRESHOLD)
        limits.append(
            f"Refunds: {money_format(settings.REFUND_DAILY_CAPS.get('USD', settings.REFUND_DAILY_CAP), 'USD')} a day; "
            f"over {money_format(usd_threshold, 'USD')} (alone, or with the last "
            f"{settings.REFUND_APPROVAL_WINDOW_HOURS} hours' refunds on the payment or customer) needs a second person"
        )
    if member.has_perm("refunds.approve_refund") or member.has_perm("payments.approve_credit_change"):
        limits.append("Approves others' refunds and credit changes, never their own or to their own account")
    return limits


@dataclass(frozen=True)
class StaffRow:
    """One row of the Staff page: the member, the role the form edits (a role group, or ""), the
    role they actually act with, in words, and their money limits."""

    member: User
    role: str
    role_shown: str
    limits: list[str]


def staff_role_shown(*, member: User, role: str) -> str:
    """The role a staff member acts with, as the Staff page names it: their role group; for a
    superuser without one, Administrator (a superuser holds every permission); for permissions
    given one by one, the highest role they hold all of; else "No role"."""
    if role:
        return role
    if member.is_superuser:
        return "Administrator (superuser)"
    for name, permissions in reversed(list(ROLES.items())):
        if member.has_perms([f"{app}.{codename}" for app, codename in permissions]):
            return f"{name} (by permissions)"
    return "No role"


def staff_rows() -> list[StaffRow]:
    """Every staff member, by first name, with their role, the role they act with and limits."""
    members = User.objects.filter(is_staff=True).prefetch_related("groups").order_by("first_name", "email")
    rows = []
    for member in members:
        role = staff_role(member)
        rows.append(
            StaffRow(
                member=member,
                role=role,
                role_shown=staff_role_shown(member=member, role=role),
                limits=staff_limits(member=member),
            )
        )
    return rows


def customer_notes(*, user: User, limit: int | None = None) -> list[CustomerNote]:
    """A customer's staff notes, newest first, each with its author (one query, one index)."""
    notes = CustomerNote.objects.filter(user=user).select_related("author").order_by("-created_at", "-id")
    return list(notes[:limit] if limit is not None else notes)


def user_by_exact_email(*, email: str) -> User | None:
    """The user whose email is exactly `email` (case aside), by the unique index, or None."""
    if "@" not in email or any(ch.isspace() for ch in email.strip()):
        return None
    return User.objects.alias(email_lower=Lower("email")).filter(email_lower=email.strip().lower()).first()
