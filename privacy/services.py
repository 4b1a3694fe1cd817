"""Erasure of a customer's personal data (GDPR, right to erasure), by an Administrator.

It sits above refunds (docs/architecture.md) because it must see every room that holds the
customer's data: accounts (the person, staff notes), notifications (text messages), payments
(disputes), refunds (refunds and their notes) and audit (events about them).

What goes: names, email, phone, the text of staff notes and refund notes, the bodies, numbers and
provider errors of text messages; in the audit trail, the names, emails, phone numbers and free
text inside the events' before/after (and the user agent of the customer's events). What stays:
the person's row (its id and credits: the ledger refers to them), the ledger, payments, refunds,
disputes, and every audit event with its amounts, so that the books still verify.

The ledger and the audit trail are append-only by database triggers: notes and audit events
accept this one rewrite only inside the erasure's transaction (`statstak.erasing_user`, set
local), accounts migrations 0009 and 0011.
"""

import re
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction

from accounts.models import CustomerNote, User
from audit.models import AuditEvent
from audit.services import audit_record
from notifications.models import SmsMessage
from payments.models import Dispute
from privacy.audit import PrivacyAction
from refunds.models import Refund

ERASED = "[erased]"
ERASED_FIRST_NAME = "Erased"
ERASED_LAST_NAME = "customer"
ERASED_EMAIL_DOMAIN = "erased.invalid"  # .invalid: never deliverable (RFC 2606)
# Keys of an audit event's before/after whose text is about the person, whatever it says.
PERSONAL_KEYS = {
    "first_name",
    "last_name",
    "name",
    "full_name",
    "email",
    "username",
    "phone",
    "to",
    "body",
    "note",
    "text",
    "rejection_reason",
    "user_agent",
}
# Refunds that are not settled: an erasure waits until they are.
REFUNDS_IN_FLIGHT = (Refund.Status.AWAITING_APPROVAL, Refund.Status.PENDING, Refund.Status.REQUIRES_ACTION)


class ErasureRefused(ValueError):
    """The erasure cannot be done now, or was not confirmed; nothing was changed."""


@dataclass(frozen=True)
class ErasureResult:
    customer: User
    notes: int
    messages: int
    refund_notes: int
    audit_events: int


def erased_email(user_id: int) -> str:
    return f"erased-{user_id}@{ERASED_EMAIL_DOMAIN}"


def customer_is_erased(customer: User) -> bool:
    return customer.email == erased_email(customer.pk)


def erasure_blockers(*, customer: User) -> list[str]:
    """Why the customer's data cannot be erased now, in words ([] when it can)."""
    problems = []
    if customer.is_staff:
        problems.append("This is a staff account: remove its staff access on the Staff page first.")
    if customer_is_erased(customer):
        problems.append("This customer's personal data has already been erased.")
    if Refund.objects.filter(payment__user=customer, status__in=REFUNDS_IN_FLIGHT).exists():
        problems.append("A refund is pending or awaiting approval: wait until it is settled or rejected.")
    if Dispute.objects.filter(payment__user=customer, status__in=Dispute.OPEN).exists():
        problems.append("A dispute is open on one of the payments: wait until it is closed.")
    return problems


@transaction.atomic
def customer_erase(*, customer: User, actor: User, confirm_email: str) -> ErasureResult:
    """Erase a customer's personal data, keeping the money records. Administrators only; the
    customer's email, typed again, confirms it. Refused (ErasureRefused) for a staff account, one
    already erased, while a refund is in flight or a dispute open."""
    if not actor.has_perm("accounts.erase_user"):
        raise PermissionDenied("Only Administrators erase customers' personal data.")
    locked = User.objects.select_for_update().get(pk=customer.pk)
    if problems := erasure_blockers(customer=locked):
        raise ErasureRefused(" ".join(problems))
    if confirm_email.strip().casefold() != locked.email.casefold():
        raise ErasureRefused("Type the customer's email address exactly as shown to confirm.")

    personal = _personal_texts(locked)
    email = locked.email
    with connection.cursor() as cursor:
        # Opens the notes' and the audit trail's guards for this customer, until the transaction ends.
        cursor.execute("SELECT set_config('statstak.erasing_user', %s, true)", [str(locked.pk)])

    locked.first_name = ERASED_FIRST_NAME
    locked.last_name = ERASED_LAST_NAME
    locked.email = erased_email(locked.pk)
    locked.phone = ""
    locked.set_unusable_password()
    locked.save(update_fields=["first_name", "last_name", "email", "phone", "password"])

    notes = CustomerNote.objects.filter(user=locked).update(text=ERASED)
    messages = SmsMessage.objects.filter(user=locked).update(body="", to="", last_error="")
    refund_notes = Refund.objects.filter(payment__user=locked).exclude(note="").update(
        note=ERASED
    ) + Refund.objects.filter(payment__user=locked).exclude(rejection_reason="").update(rejection_reason=ERASED)
    audit_events = _audit_events_scrub(locked, email=email, personal=personal)

    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statstak.erasing_user', '', true)")
    counts = {"notes": notes, "messages": messages, "refund_notes": refund_notes, "audit_events": audit_events}
    # What was done and how much, never what was erased.
    audit_record(action=PrivacyAction.CUSTOMER_ERASED, actor=actor, target_user=locked, after=counts)
    return ErasureResult(customer=locked, **counts)


def _personal_texts(customer: User) -> list[str]:
    """The customer's personal data as it may appear inside free text, longest first."""
    texts = {customer.email, customer.full_name, customer.first_name, customer.last_name}
    if customer.phone:
        number = str(customer.phone.as_e164)
        texts |= {
            number,
            number.removeprefix("+"),
            str(customer.phone.as_national),
            str(customer.phone.as_international),
        }
    return sorted((text for text in texts if len(text.strip()) >= 2), key=len, reverse=True)


def _audit_events_scrub(customer: User, *, email: str, personal: list[str]) -> int:
    """Scrub the personal data out of the customer's audit events and of failed logins that typed
    their email; count the events changed. Amounts, ids and statuses are kept."""
    # Whole words only: a customer called Al leaves "Alert" alone.
    alternatives = "|".join(re.escape(text) for text in personal)
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE) if personal else None
    events = AuditEvent.objects.filter(target_user=customer).only("id", "before", "after", "user_agent")
    failed_logins = AuditEvent.objects.filter(
        target_user__isnull=True, action="login_failed", after__username__iexact=email
    ).only("id", "before", "after", "user_agent")
    changed = 0
    for event in [*events.iterator(chunk_size=500), *failed_logins]:
        before, after = _scrubbed(event.before, pattern), _scrubbed(event.after, pattern)
        if before != event.before or after != event.after or event.user_agent:
            AuditEvent.objects.filter(pk=event.pk).update(before=before, after=after, user_agent="")
            changed += 1
    return changed


def _scrubbed(value, pattern: re.Pattern | None, key: str = ""):
    """`value` (an event's before/after) with personal text replaced: every string under a
    personal key, and the customer's name, email or number wherever else they appear. Numbers,
    booleans and the keys themselves are kept."""
    if isinstance(value, dict):
        return {name: _scrubbed(item, pattern, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item, pattern, key) for item in value]
    if isinstance(value, str):
        if key in PERSONAL_KEYS and value:
            return ERASED
        return pattern.sub(ERASED, value) if pattern else value
    return value
