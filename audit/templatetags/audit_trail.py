"""The audit trail in words: `{% for change in event|audit_changes %}`.

An event's before/after are what each room chose to record (dicts of internal keys, money in
minor units). This turns them into what an auditor reads: only the fields that changed, each
with its label, money in its currency ("$0.01", not `{'amount': 1}`), credits as numbers with
signs, ids as links. The CSV export keeps the raw values (audit/export.py).

The vocabulary is one table of the keys the rooms record: audit knows no room above it, so it
names their keys here rather than importing their code; an unknown key is shown with its name
made readable, never hidden.
"""

from dataclasses import dataclass

from django import template
from django.contrib.contenttypes.models import ContentType
from django.urls import NoReverseMatch, reverse

from audit.models import AuditEvent
from core.money import money_format

register = template.Library()

MONEY = "money"
CREDITS = "credits"  # a balance: 1,200
CREDITS_DELTA = "credits_delta"  # a change: +500, or -80 with a real minus sign
WORDS = "words"  # an internal value, made readable: awaiting_approval → Awaiting approval
TEXT = "text"  # shown as recorded, quoted
FLAG = "flag"
CUSTOMER_PAYMENT = "customer_payment"  # a gateway id: links to the customer's Payments tab
STAFF_MEMBER = "staff_member"  # a user id: links to their profile
CREDIT_CHANGE = "credit_change"  # a credit change request id: links to Approvals
CODE = "code"  # an identifier shown as code

# key: (label, kind), in the order an auditor reads them.
FIELDS: dict[str, tuple[str, str]] = {
    "status": ("Status", WORDS),
    "type": ("Type", WORDS),
    "amount": ("Amount", MONEY),
    "reason": ("Reason", WORDS),
    "amount_refunded": ("Refunded on the payment", MONEY),
    "reserved": ("Refunded or pending", MONEY),
    "credits": ("Credits", CREDITS),
    "new_balance": ("New balance", CREDITS),
    "credits_delta": ("Credits", CREDITS_DELTA),
    "credits_back": ("Credits given back", CREDITS_DELTA),
    "payment": ("Payment", CUSTOMER_PAYMENT),
    "gateway_id": ("Payment", CUSTOMER_PAYMENT),
    "gateway_refund_id": ("Gateway refund id", CODE),
    "approval_rule": ("Approval", TEXT),
    "requested_by": ("Requested by", STAFF_MEMBER),
    "credit_change": ("Credit change", CREDIT_CHANGE),
    "note": ("Note", TEXT),
    "failure_reason": ("Why it failed", TEXT),
    "rejection_reason": ("Why it was rejected", TEXT),
    "role": ("Role", TEXT),
    "active": ("Active", FLAG),
    "username": ("Email typed", TEXT),
    "step": ("Step", WORDS),
    "codes_left": ("Recovery codes left", CREDITS),
    "error_code": ("Error code", CODE),
    "actor_id": ("Staff filter", STAFF_MEMBER),
    "target_user_id": ("Customer filter", STAFF_MEMBER),
    "action": ("Action filter", WORDS),
    "since": ("From", TEXT),
    "until": ("To", TEXT),
}
# Read to format the others, shown only if it changed.
QUIET = {"currency"}
WORD_VALUES = {"full": "Full refund", "partial": "Partial refund", "credits": "Account credits"}


@dataclass(frozen=True)
class Change:
    """One field of an event: `before` → `after` (either may be absent), a signed delta for
    balances, and a link for ids."""

    label: str
    before: str | None
    after: str | None
    delta: str = ""
    href: str = ""
    kind: str = TEXT
    # Recorded after the change only, on an event that says what it changed (its `before`): a fact
    # about the object, not a change; shown after the changes, quieter.
    context: bool = False


def _label(key: str) -> str:
    return FIELDS.get(key, (key.replace("_", " ").capitalize(), TEXT))[0]


def _kind(key: str) -> str:
    return FIELDS.get(key, ("", TEXT))[1]


def signed(number: int) -> str:
    """+500; -80 written with a real minus sign (U+2212); 0."""
    if number > 0:
        return f"+{number:,}"
    if number < 0:
        return f"\u2212{-number:,}"
    return "0"


def _shown(value, *, kind: str, currency: str) -> str:
    if value is None or value == "":
        return "—"
    if kind == MONEY and isinstance(value, int):
        return money_format(value, currency) if currency else f"{value:,} (minor units)"
    if kind == CREDITS and isinstance(value, int):
        return f"{value:,}"
    if kind == CREDITS_DELTA and isinstance(value, int):
        return signed(value)
    if kind == FLAG:
        return "Yes" if value else "No"
    if kind == WORDS and isinstance(value, str):
        return WORD_VALUES.get(value, value.replace("_", " ").capitalize())
    if kind == TEXT and isinstance(value, str):
        return f"“{value}”" if value else "—"
    return str(value)


def _href(value, *, kind: str, event: AuditEvent) -> str:
    try:
        if kind == CUSTOMER_PAYMENT and event.target_user_id:
            return reverse("user_payments", args=[event.target_user_id])
        if kind == STAFF_MEMBER and isinstance(value, int):
            return reverse("user_detail", args=[value])
        if kind == CREDIT_CHANGE and value:
            return reverse("approvals")
    except NoReverseMatch:
        return ""
    return ""


def audit_change_list(event: AuditEvent) -> list[Change]:
    """The fields of `event` that changed, in words: a field recorded on both sides with the same
    value is left out; one recorded on one side only is shown as it was recorded (after the
    changes, marked `context`, when the event also recorded a field on both sides)."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    currency = str(after.get("currency") or before.get("currency") or "")
    # An event that recorded a field on both sides is about changing it: what it recorded on the
    # after side only is context. One that shares no field (a refund asked for) is all content.
    changes_something = bool(set(before) & set(after))
    keys = [key for key in FIELDS if key in before or key in after]
    keys += [key for key in [*after, *before] if key not in FIELDS and key not in keys]
    changes: list[Change] = []
    for key in keys:
        if key in QUIET and not (key in before and key in after and before[key] != after[key]):
            continue
        kind = _kind(key)
        in_before, in_after = key in before, key in after
        if in_before and in_after and before[key] == after[key]:
            continue
        old, new = before.get(key), after.get(key)
        if not in_before and new in (None, ""):
            continue  # nothing recorded: nothing to read
        delta = ""
        if kind in (CREDITS,) and isinstance(old, int) and isinstance(new, int) and in_before and in_after:
            delta = signed(new - old)
        changes.append(
            Change(
                label=_label(key),
                before=_shown(old, kind=kind, currency=currency) if in_before else None,
                after=_shown(new, kind=kind, currency=currency) if in_after else None,
                delta=delta,
                href=_href(new if in_after else old, kind=kind, event=event),
                kind=kind,
                context=changes_something and in_after and not in_before,
            )
        )
    # A change asked for (credits before, a new balance after): one line, with its sign.
    credits_before = before.get("credits")
    new_balance = after.get("new_balance")
    if isinstance(credits_before, int) and isinstance(new_balance, int) and "credits" not in after:
        changes = [c for c in changes if c.label not in ("Credits", "New balance")]
        changes.insert(
            0,
            Change(
                label="Credits (asked for)",
                before=f"{credits_before:,}",
                after=f"{new_balance:,}",
                delta=signed(new_balance - credits_before),
                kind=CREDITS,
            ),
        )
    return [c for c in changes if not c.context] + [c for c in changes if c.context]


@register.filter
def audit_changes(event: AuditEvent) -> list[Change]:
    return audit_change_list(event)


@register.filter
def audit_about(event: AuditEvent) -> str:
    """What the event is about, in words: "Refund #12", "Ledger entry #40" ("" for nothing)."""
    if not event.about_type_id or not event.about_id:
        return ""
    model = ContentType.objects.get_for_id(event.about_type_id).model_class()
    name = str(model._meta.verbose_name).capitalize() if model else "Object"
    return f"{name} #{event.about_id}"
