from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Abs
from django.utils import timezone

from accounts.models import User
from core.dates import DAY, times_formatted
from payments.gateway import STRIPE_WEBHOOK_API_VERSION_NEEDED, stripe_api_version_outdated
from payments.models import (
    REFUND_UNSETTLED_STATUSES,
    CreditChangeRequest,
    Dispute,
    GatewayEvent,
    LedgerEntry,
    Payment,
)


def utc_day_start() -> datetime:
    """The start of today, UTC: daily limits run from midnight to midnight UTC."""
    return timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)


def credits_adjusted_today(*, customer: User | None = None, actor: User | None = None) -> int:
    """Credits added or removed by hand today (each adjustment counted by its size, so that
    +500 then -500 is 1,000 changed, not 0): on `customer` by anyone, or by `actor` on anyone."""
    entries = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT, created_at__gte=utc_day_start())
    if customer is not None:
        entries = entries.filter(user=customer)
    if actor is not None:
        entries = entries.filter(actor=actor)
    return entries.aggregate(total=Sum(Abs("credits_delta")))["total"] or 0


@dataclass(frozen=True)
class CreditsAllowance:
    """What a staff member may still change on a customer's credits today without anyone else."""

    limited: bool  # Support's limits apply (no `payments.adjust_credits_any_amount`)
    per_edit: int
    per_customer_day: int
    per_staff_day: int
    customer_remaining: int  # on this customer, today
    staff_remaining: int  # by this staff member on all customers, today
    approval_threshold: int  # changes of more credits than this wait for a second person

    @property
    def remaining(self) -> int:
        """The largest change one edit may make now."""
        return min(self.per_edit, self.customer_remaining, self.staff_remaining)


def credits_allowance(*, staff: User, customer: User | None = None) -> CreditsAllowance:
    """The staff member's credit limits and what remains of them today (on `customer`, if given).
    `credits_adjust` decides with the same numbers, under its locks."""
    limited = not staff.has_perm("payments.adjust_credits_any_amount")
    per_customer = settings.CREDITS_SUPPORT_DAILY_PER_CUSTOMER
    per_staff = settings.CREDITS_SUPPORT_DAILY_PER_STAFF
    customer_used = credits_adjusted_today(customer=customer) if limited and customer is not None else 0
    staff_used = credits_adjusted_today(actor=staff) if limited else 0
    return CreditsAllowance(
        limited=limited,
        per_edit=settings.CREDITS_SUPPORT_MAX_CHANGE,
        per_customer_day=per_customer,
        per_staff_day=per_staff,
        customer_remaining=max(per_customer - customer_used, 0),
        staff_remaining=max(per_staff - staff_used, 0),
        approval_threshold=settings.CREDITS_APPROVAL_THRESHOLD,
    )


def credit_changes_awaiting_approval() -> list[CreditChangeRequest]:
    """Large credit changes waiting for a second staff member, oldest first."""
    return list(
        CreditChangeRequest.objects.filter(status=CreditChangeRequest.Status.AWAITING_APPROVAL)
        .select_related("user", "requested_by")
        .order_by("created_at", "id")[:200]
    )


@dataclass(frozen=True)
class LedgerPage:
    entries: list[LedgerEntry]
    next_before: int | None  # the id to continue before, or None on the last page


# What templates/payments/ledger_table.html shows of an entry: building every column of the entry
# and of its actor cost more than the query. A column left out costs a query per row when asked for.
_LEDGER_TABLE_COLUMNS = (
    *("created_at", "kind", "credits_delta", "money_delta", "currency", "balance_after", "note"),
    *("actor__first_name", "actor__last_name", "actor__email"),
)


def ledger_history(*, user: User, before: int | None = None, limit: int | None = None) -> LedgerPage:
    """A customer's ledger entries, newest first, paged by id: two queries whatever the history.
    Each entry's time is formatted once (`created_at_texts`) for the table that prints it."""
    limit = limit or settings.CREDIT_HISTORY_PAGE_SIZE
    entries = LedgerEntry.objects.filter(user=user).select_related("actor").only(*_LEDGER_TABLE_COLUMNS).order_by("-id")
    if before is not None:
        entries = entries.filter(id__lt=before)
    rows = list(entries[: limit + 1])
    next_before = rows[limit - 1].pk if len(rows) > limit else None
    times_formatted(rows[:limit])
    return LedgerPage(entries=rows[:limit], next_before=next_before)


@dataclass(frozen=True)
class PaymentPage:
    payments: list[Payment]
    next_before: int | None


def payment_history(*, user: User, before: int | None = None, limit: int = 10) -> PaymentPage:
    """A customer's payments, newest first, each with how many refunds it has and how many are
    unsettled, and its latest dispute's status: one query (plus one for the page boundary) however
    many payments and refunds.

    The page is taken first (the user's newest-first index, `limit + 1` rows), then each of its
    rows counts its refunds (correlated subqueries, which PostgreSQL evaluates after the LIMIT).
    Counting by a GROUP BY over the join instead read, joined and sorted every payment of the
    customer before keeping 11: 128 ms at 100,000 payments against 16 ms at 500.
    """
    # `refunds` is the reverse side of refunds.Refund.payment: its model without importing the refunds app.
    refund_model = Payment._meta.get_field("refunds").related_model
    refunds = refund_model.objects.filter(payment=OuterRef("pk")).order_by().values("payment")
    payments = (
        Payment.objects.filter(user=user)
        .annotate(
            refund_count=Subquery(refunds.annotate(n=Count("*")).values("n"), output_field=IntegerField()),
            unsettled_refund_count=Subquery(
                refunds.filter(status__in=REFUND_UNSETTLED_STATUSES).annotate(n=Count("*")).values("n"),
                output_field=IntegerField(),
            ),
            # The latest dispute's status, for the row's badge: an index lookup per row shown
            # (payments_dispute.payment_id), no extra query and no scan.
            dispute_status=Subquery(
                Dispute.objects.filter(payment=OuterRef("pk")).order_by("-id").values("status")[:1]
            ),
        )
        .order_by("-created_at", "-id")
    )
    if before is not None:
        boundary = Payment.objects.filter(pk=before, user=user).values_list("created_at", flat=True).first()
        if boundary is not None:
            payments = payments.filter(Q(created_at__lt=boundary) | Q(created_at=boundary, pk__lt=before))
    rows = list(payments[: limit + 1])
    for row in rows:  # a payment with no refund has no group to count: None
        row.refund_count = row.refund_count or 0
        row.unsettled_refund_count = row.unsettled_refund_count or 0
    next_before = rows[limit - 1].pk if len(rows) > limit else None
    times_formatted(rows[:limit], format=DAY)  # each row prints its day twice
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


# Disputes.


def payment_dispute(*, payment: Payment) -> Dispute | None:
    """The payment's latest dispute (a payment is rarely disputed twice), or None."""
    return Dispute.objects.filter(payment=payment).order_by("-id").first()


def payment_dispute_blocking_refunds(*, payment: Payment) -> Dispute | None:
    """A dispute on the payment that forbids refunding it (`Dispute.blocks_refunds`), or None."""
    return Dispute.objects.filter(Dispute.BLOCKS_REFUNDS, payment=payment).order_by("-id").first()


# Stripe's webhook endpoint.


@dataclass(frozen=True)
class WebhookApiVersion:
    """The API version of the latest Stripe event the portal acted on, and what it means."""

    api_version: str  # "unknown" when the event named none the portal reads
    needed: str  # the oldest version the handlers are written for
    outdated: str  # why the version misses news, in a sentence for Finance; "" when it does not
    received_at: datetime


def stripe_webhook_api_version() -> WebhookApiVersion | None:
    """What the latest Stripe event acted on says of the endpoint's API version, or None before
    any was recorded with its version. One row read, newest first by id."""
    latest = (
        GatewayEvent.objects.filter(gateway=Payment.Gateway.STRIPE)
        .exclude(api_version="")
        .order_by("-id")
        .values_list("api_version", "received_at")
        .first()
    )
    if latest is None:
        return None
    api_version, received_at = latest
    return WebhookApiVersion(
        api_version=api_version,
        needed=STRIPE_WEBHOOK_API_VERSION_NEEDED,
        outdated=stripe_api_version_outdated(api_version),
        received_at=received_at,
    )
