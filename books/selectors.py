from dataclasses import dataclass

from django.urls import reverse

from books.checks import COUNTED, RULES
from books.models import BooksCheck
from payments.models import LedgerEntry, Payment
from refunds.models import Refund


def books_check_last() -> BooksCheck | None:
    """The latest kept books check, or None before the first."""
    return BooksCheck.objects.order_by("-ran_at", "-id").first()


@dataclass(frozen=True)
class RuleLine:
    rule: str
    says: str
    offender_count: int | None  # None: the rule did not exist when the check ran


@dataclass(frozen=True)
class OffenderLine:
    rule: str
    object: str
    id: int
    detail: str
    url: str  # the customer's page where a person can look, or "" when the row is gone


def books_check_rules(*, check: BooksCheck) -> list[RuleLine]:
    return [RuleLine(rule.name, rule.says, check.rules.get(rule.name)) for rule in RULES]


def books_check_offenders(*, check: BooksCheck) -> list[OffenderLine]:
    """The kept offenders, each with a link to its customer: three queries however many."""
    ids: dict[str, set[int]] = {}
    for offender in check.offenders:
        ids.setdefault(offender["object"], set()).add(offender["id"])
    customer_of = {("user", pk): pk for pk in ids.get("user", ())}
    for pk, user_id in Payment.objects.filter(pk__in=ids.get("payment", ())).values_list("pk", "user_id"):
        customer_of["payment", pk] = user_id
    for pk, user_id in Refund.objects.filter(pk__in=ids.get("refund", ())).values_list("pk", "payment__user_id"):
        customer_of["refund", pk] = user_id
    for pk, user_id in LedgerEntry.objects.filter(pk__in=ids.get("ledger entry", ())).values_list("pk", "user_id"):
        customer_of["ledger entry", pk] = user_id
    lines = []
    for offender in check.offenders:
        customer = customer_of.get((offender["object"], offender["id"]))
        page = "user_detail" if offender["object"] == "user" else "user_payments"
        url = reverse(page, args=[customer]) if customer else ""
        lines.append(OffenderLine(**offender, url=url))
    return lines


def books_check_counts(*, check: BooksCheck) -> list[tuple[str, int]]:
    """What the check looked at, in a fixed order (PostgreSQL keeps JSON keys in its own)."""
    return [(name, check.counts[name]) for name in COUNTED if name in check.counts]
