from dataclasses import dataclass

from django.urls import reverse

from books.checks import COUNTED, RULES
from books.drift import COUNTS
from books.models import BooksCheck, DriftCheck
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


def drift_check_last() -> DriftCheck | None:
    """The latest kept drift report, or None before the first."""
    return DriftCheck.objects.order_by("-ran_at", "-id").first()


def drift_check_counts(*, check: DriftCheck) -> list[tuple[str, list[tuple[str, int]]]]:
    """What each gateway listed and what matched, in `books.drift.COUNTS` order (the database
    keeps a JSON object's keys in an order of its own)."""
    return [
        (Payment.Gateway(gateway).label, [(name, counts[name]) for name in COUNTS if name in counts])
        for gateway, counts in sorted(check.counts.items())
    ]


@dataclass(frozen=True)
class DriftLine:
    kind: str  # what differs, in words
    what: str  # the refund or payment it concerns, or the gateway
    gateway_refund_id: str
    detail: str
    acts: str  # who deals with it: a person, or the portal (and how)
    needs_person: bool
    url: str  # the customer's Payments tab, or "" when it concerns no payment


_ACTS = {
    DriftCheck.Kind.ADOPTED: "Recorded by the report",
    DriftCheck.Kind.UNSETTLED_HERE: "The reconciliation job",
}


def drift_check_lines(*, check: DriftCheck) -> list[DriftLine]:
    """The kept exceptions, each with a link to its customer's Payments tab."""
    lines = []
    for exception in check.exceptions:
        kind = exception["kind"]
        payment, refund = exception.get("payment_id"), exception.get("refund_id")
        if refund:
            what = f"Refund {refund} on payment {payment}"
        elif payment:
            what = f"Payment {payment}"
        else:
            what = Payment.Gateway(exception["gateway"]).label
        customer = exception.get("customer_id")
        lines.append(
            DriftLine(
                kind=DriftCheck.Kind(kind).label,
                what=what,
                gateway_refund_id=exception.get("gateway_refund_id", ""),
                detail=exception["detail"],
                acts=_ACTS.get(kind, "A person"),
                needs_person=DriftCheck.needs_person(kind),
                url=reverse("user_payments", args=[customer]) if customer else "",
            )
        )
    return lines
