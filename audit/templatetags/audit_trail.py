"""The audit trail in words: `{% for row in events|audit_rows %}`.

An event's before/after are what each room chose to record (dicts of internal keys, money in
minor units). This turns them into what an auditor reads: only the fields that changed, each
with its label, money in its currency ("$0.01", not `{'amount': 1}`), credits as numbers with
signs, ids as links. The CSV export keeps the raw values (audit/export.py).

The vocabulary is one table of the keys the rooms record: audit knows no room above it, so it
names their keys here rather than importing their code; an unknown key is shown with its name
made readable, never hidden.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django import template
from django.contrib.contenttypes.models import ContentType
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from audit.models import AuditEvent
from core.dates import SECONDS, TimeTexts, time_texts
from core.money import money_format

register = template.Library()

MONEY = "money"
CREDITS = "credits"  # a balance: 1,200
CREDITS_DELTA = "credits_delta"  # a change: +500, or -80 with a real minus sign
WORDS = "words"  # an internal value, made readable: awaiting_approval → Awaiting approval
TEXT = "text"  # shown as recorded, quoted
FLAG = "flag"
MOMENT = "moment"  # a time recorded as ISO 8601 text: shown as the tables show times
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
    "evidence_due_at": ("Evidence due", MOMENT),
    "charge_refundable": ("Charge refundable", FLAG),
    "credits_taken": ("Credits taken back", CREDITS),
    "money_delta": ("Money in the books", MONEY),
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


def _shown(value, *, kind: str, currency: str, money: Callable[[int, str], str]) -> str:
    if value is None or value == "":
        return "—"
    if kind == MONEY and isinstance(value, int):
        return money(value, currency) if currency else f"{value:,} (minor units)"
    if kind == CREDITS and isinstance(value, int):
        return f"{value:,}"
    if kind == CREDITS_DELTA and isinstance(value, int):
        return signed(value)
    if kind == MOMENT and isinstance(value, str):
        try:
            return time_texts(datetime.fromisoformat(value)).text
        except ValueError:
            return value
    if kind == FLAG:
        return "Yes" if value else "No"
    if kind == WORDS and isinstance(value, str):
        return WORD_VALUES.get(value, value.replace("_", " ").capitalize())
    if kind == TEXT and isinstance(value, str):
        return f"“{value}”" if value else "—"
    return str(value)


def _reverse(name: str, *args) -> str:
    return reverse(name, args=args)


def _href(value, *, kind: str, event: AuditEvent, link: Callable[..., str]) -> str:
    try:
        if kind == CUSTOMER_PAYMENT and event.target_user_id:
            return link("user_payments", event.target_user_id)
        if kind == STAFF_MEMBER and isinstance(value, int):
            return link("user_detail", value)
        if kind == CREDIT_CHANGE and value:
            return link("approvals")
    except NoReverseMatch:
        return ""
    return ""


def _linked(text: str, href: str) -> SafeString:
    return format_html('<a href="{}">{}</a>', href, text) if href else escape(text)


_ITEM = SafeString("<li>")
_ITEM_CONTEXT = SafeString('<li class="change-context">')


def _change_item(change: Change) -> SafeString:
    """One <li> of the change list: "Label: before → after (delta)", "Label: after" or "Label: was
    before"; the value a change links to is the one it reads as. A format_html a line (two with a
    link), not one a part: a page has hundreds of lines."""
    item = _ITEM_CONTEXT if change.context else _ITEM
    if change.before is not None and change.after is not None:
        after = _linked(change.after, change.href)
        if change.delta:
            trend = "delta-up" if change.delta[0] == "+" else "delta-down"
            return format_html(
                '{}<span class="change-label">{}:</span> {} → {} <span class="{}">({})</span></li>',
                item,
                change.label,
                change.before,
                after,
                trend,
                change.delta,
            )
        return format_html(
            '{}<span class="change-label">{}:</span> {} → {}</li>', item, change.label, change.before, after
        )
    if change.after is not None:
        return format_html(
            '{}<span class="change-label">{}:</span> {}</li>', item, change.label, _linked(change.after, change.href)
        )
    return format_html(
        '{}<span class="change-label">{}:</span> was {}</li>', item, change.label, _linked(change.before, change.href)
    )


@dataclass(frozen=True)
class Wording:
    """What a change list is written with. For a page, each is remembered for its rows
    (`Wording.for_page()`): the same people, amounts and whole lines recur from row to row (a
    customer's refunds read alike), and each costs a reverse(), Babel or format_html."""

    link: Callable[..., str] = _reverse
    money: Callable[[int, str], str] = money_format
    item: Callable[[Change], SafeString] = _change_item

    @classmethod
    def for_page(cls) -> "Wording":
        # Typed, since True == 1 as a key but reverse() links 1 and refuses True. Kept by the
        # Wording only, which lives as long as one rendering of the table.
        remember = lru_cache(maxsize=None, typed=True)
        return cls(link=remember(_reverse), money=remember(money_format), item=remember(_change_item))


_PLAIN = Wording()


def audit_change_list(event: AuditEvent, *, wording: Wording = _PLAIN) -> list[Change]:
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
                before=_shown(old, kind=kind, currency=currency, money=wording.money) if in_before else None,
                after=_shown(new, kind=kind, currency=currency, money=wording.money) if in_after else None,
                delta=delta,
                href=_href(new if in_after else old, kind=kind, event=event, link=wording.link),
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


def audit_change_html(event: AuditEvent, *, wording: Wording = _PLAIN) -> SafeString:
    """`audit_change_list` as the table shows it: a <ul class="change-list">, "" for no change.

    Written with format_html (every value escaped) rather than a template per change: a page of
    50 events has a few hundred changes, and the template's nested conditions were most of its
    cost."""
    changes = audit_change_list(event, wording=wording)
    if not changes:
        return SafeString("")
    # Lines that format_html escaped, joined by newlines: safe as they are.
    items = SafeString("\n".join(map(wording.item, changes)))
    return format_html('<ul class="change-list">\n{}\n</ul>', items)


def audit_about(event: AuditEvent) -> str:
    """What the event is about, in words: "Refund #12", "Ledger entry #40" ("" for nothing).

    `get_for_id` reads Django's cache of content types, so this costs no query per row."""
    if not event.about_type_id or not event.about_id:
        return ""
    model = ContentType.objects.get_for_id(event.about_type_id).model_class()
    name = str(model._meta.verbose_name).capitalize() if model else "Object"
    return f"{name} #{event.about_id}"


@dataclass(frozen=True)
class AuditRow:
    """One event as the audit table shows it: each cell's words and links, made once in Python (the
    template's lookups and filters, fifty rows a page, cost more than the rest of the page). Plain
    strings, escaped by the template; `changes` is already escaped HTML."""

    when: TimeTexts  # Dec 5, 2026 21:33:46 UTC (core.dates.SECONDS)
    action: str
    actor: str
    actor_href: str
    customer: str  # their name, else their email
    customer_href: str  # "" for an event about no one
    about: str
    changes: SafeString  # "" for an event that changed nothing
    ip_address: str
    correlation: str  # as |truncatechars:14


@register.filter
def audit_rows(events: Iterable[AuditEvent]) -> list[AuditRow]:
    """The table's rows (the customer is read from `event.target_user`: select it with the events);
    nothing is kept beyond this call."""
    wording = Wording.for_page()
    rows = []
    for event in events:
        customer = event.target_user if event.target_user_id else None
        rows.append(
            AuditRow(
                when=time_texts(event.created_at, SECONDS),
                action=event.action_label,
                actor=event.actor_label,
                actor_href=wording.link("user_detail", event.actor_id) if event.actor_id else "",
                customer=(customer.full_name or customer.email) if customer else "",
                customer_href=wording.link("user_detail", customer.pk) if customer else "",
                about=audit_about(event),
                changes=audit_change_html(event, wording=wording),
                ip_address=event.ip_address or "—",
                correlation=Truncator(event.correlation_id).chars(14),
            )
        )
    return rows
