from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q

from accounts.models import User
from payments.models import REFUND_UNSETTLED_STATUSES, LedgerEntry, Payment


@dataclass(frozen=True)
class LedgerPage:
    entries: list[LedgerEntry]
    next_before: int | None  # the id to continue before, or None on the last page


def ledger_history(*, user: User, before: int | None = None, limit: int | None = None) -> LedgerPage:
    """A customer's ledger entries, newest first, paged by id: two queries whatever the history."""
    limit = limit or settings.CREDIT_HISTORY_PAGE_SIZE
    entries = LedgerEntry.objects.filter(user=user).select_related("actor").order_by("-id")
    if before is not None:
        entries = entries.filter(id__lt=before)
    rows = list(entries[: limit + 1])
    next_before = rows[limit - 1].pk if len(rows) > limit else None
    return LedgerPage(entries=rows[:limit], next_before=next_before)


@dataclass(frozen=True)
class PaymentPage:
    payments: list[Payment]
    next_before: int | None


def payment_history(*, user: User, before: int | None = None, limit: int = 10) -> PaymentPage:
    """A customer's payments, newest first, each with how many refunds it has and how many are
    unsettled: one query (plus one for the page boundary) however many payments and refunds."""
    payments = (
        Payment.objects.filter(user=user)
        .annotate(
            # `refunds` is the reverse side of refunds.Refund.payment: no import of the refunds app.
            refund_count=Count("refunds"),
            unsettled_refund_count=Count("refunds", filter=Q(refunds__status__in=REFUND_UNSETTLED_STATUSES)),
        )
        .order_by("-created_at", "-id")
    )
    if before is not None:
        boundary = Payment.objects.filter(pk=before, user=user).values_list("created_at", flat=True).first()
        if boundary is not None:
            payments = payments.filter(Q(created_at__lt=boundary) | Q(created_at=boundary, pk__lt=before))
    rows = list(payments[: limit + 1])
    next_before = rows[limit - 1].pk if len(rows) > limit else None
    return PaymentPage(payments=rows[:limit], next_before=next_before)


@dataclass(frozen=True)
class LedgerMismatch:
    user_id: int
    balance: int
    ledger_sum: int
    last_balance_after: int | None


@dataclass(frozen=True)
class LedgerReport:
    users: int
    entries: int
    mismatches: list[LedgerMismatch]
    mismatch_count: int


def ledger_verify(*, show: int = 100) -> LedgerReport:
    """Invariant 1 of DESIGN.md for every user, in one pass over each table.

    A user is reported when their balance is negative, differs from the sum of their ledger
    deltas, or differs from the `balance_after` of their latest entry.
    """
    sql = """
        WITH sums AS (
            SELECT user_id, SUM(credits_delta) AS ledger_sum, COUNT(*) AS entries, MAX(id) AS last_id
            FROM payments_ledgerentry GROUP BY user_id
        ),
        checked AS (
            SELECT u.id, u.credits, COALESCE(s.ledger_sum, 0) AS ledger_sum, l.balance_after,
                   COALESCE(s.entries, 0) AS entries
            FROM accounts_user u
            LEFT JOIN sums s ON s.user_id = u.id
            LEFT JOIN payments_ledgerentry l ON l.id = s.last_id
        )
        SELECT COUNT(*), COALESCE(SUM(entries), 0),
               COUNT(*) FILTER (WHERE credits < 0 OR credits <> ledger_sum OR credits <> COALESCE(balance_after, 0)),
               (SELECT json_agg(bad) FROM (
                    SELECT id, credits, ledger_sum, balance_after FROM checked
                    WHERE credits < 0 OR credits <> ledger_sum OR credits <> COALESCE(balance_after, 0)
                    ORDER BY id LIMIT %s
               ) bad)
        FROM checked
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [show])
        users, entries, mismatch_count, bad = cursor.fetchone()
    mismatches = [
        LedgerMismatch(
            user_id=row["id"],
            balance=row["credits"],
            ledger_sum=row["ledger_sum"],
            last_balance_after=row["balance_after"],
        )
        for row in bad or []
    ]
    return LedgerReport(users=users, entries=int(entries), mismatches=mismatches, mismatch_count=mismatch_count)
