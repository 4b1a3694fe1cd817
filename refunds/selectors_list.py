"""The Refunds page across customers: refunds by filters, a page at a time by keyset, and as CSV.

Keyset, not OFFSET: a page is "the next `limit` refunds older than (created_at, id) of the last
one shown", which reads one index range (`refunds_created_keyset`, or the filter's own index)
however deep the page, and never skips or repeats a row when refunds arrive meanwhile.
"""

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Q, QuerySet

from audit.export import csv_safe
from core.money import money_to_decimal_text
from refunds.models import Refund


@dataclass(frozen=True)
class RefundListFilter:
    status: str = ""
    staff_id: int | None = None
    since: date | None = None
    until: date | None = None  # inclusive
    currency: str = ""
    type: str = ""
    amount_min: int | None = None  # minor units of `currency`
    amount_max: int | None = None


@dataclass(frozen=True)
class RefundCursor:
    """Where a page starts: just after the refund created at `created_at` with this `id`."""

    created_at: datetime
    id: int

    def token(self) -> str:
        micros = int(self.created_at.timestamp()) * 1_000_000 + self.created_at.microsecond
        return f"{micros}.{self.id}"

    @classmethod
    def parse(cls, token: str) -> "RefundCursor | None":
        """The cursor in a page link, or None for one that is not ours (never an exception)."""
        micros, _, pk = token.partition(".")
        if not (micros.isascii() and micros.isdigit() and pk.isascii() and pk.isdigit()):
            return None
        if len(micros) > 17 or len(pk) > 18:
            return None
        seconds, rest = divmod(int(micros), 1_000_000)
        try:
            created_at = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=rest)
        except (OverflowError, OSError, ValueError):
            return None
        return cls(created_at=created_at, id=int(pk))


def refunds_filtered(*, filters: RefundListFilter = RefundListFilter()) -> QuerySet[Refund]:
    """Refunds of every customer matching `filters`, newest first."""
    refunds = Refund.objects.order_by("-created_at", "-id")
    if filters.status:
        refunds = refunds.filter(status=filters.status)
    if filters.staff_id:
        refunds = refunds.filter(requested_by_id=filters.staff_id)
    if filters.since:
        refunds = refunds.filter(created_at__gte=datetime.combine(filters.since, time.min, tzinfo=UTC))
    if filters.until:
        refunds = refunds.filter(
            created_at__lt=datetime.combine(filters.until + timedelta(days=1), time.min, tzinfo=UTC)
        )
    if filters.currency:
        refunds = refunds.filter(currency__in=[filters.currency.lower(), filters.currency.upper()])
    if filters.type:
        refunds = refunds.filter(type=filters.type)
    if filters.amount_min is not None:
        refunds = refunds.filter(amount__gte=filters.amount_min)
    if filters.amount_max is not None:
        refunds = refunds.filter(amount__lte=filters.amount_max)
    return refunds


@dataclass(frozen=True)
class RefundListPage:
    refunds: list[Refund]
    next_cursor: str | None


def refunds_page(
    *, filters: RefundListFilter = RefundListFilter(), after: RefundCursor | None = None, limit: int = 50
) -> RefundListPage:
    """One page of `refunds_filtered`, starting after the cursor (None: the newest)."""
    refunds = refunds_filtered(filters=filters).select_related("payment__user", "requested_by")
    if after is not None:
        # The redundant `created_at <= …` gives the planner an index range to start from (the OR
        # alone it may read as a filter over the whole index).
        refunds = refunds.filter(
            Q(created_at__lte=after.created_at),
            Q(created_at__lt=after.created_at) | Q(created_at=after.created_at, id__lt=after.id),
        )
    rows = list(refunds[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = RefundCursor(created_at=last.created_at, id=last.pk).token()
    return RefundListPage(refunds=rows[:limit], next_cursor=next_cursor)


REFUND_CSV_COLUMNS = [
    "refund_id",
    "created_at",
    "status",
    "type",
    "amount",
    "currency",
    "reason",
    "note",
    "requested_by",
    "customer_id",
    "customer_email",
    "payment_id",
    "gateway_refund_id",
    "failure_reason",
]
_CSV_FIELDS = [
    "pk",
    "created_at",
    "status",
    "type",
    "amount",
    "currency",
    "reason",
    "note",
    "requested_by__email",
    "payment__user_id",
    "payment__user__email",
    "payment_id",
    "gateway_refund_id",
    "failure_reason",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def refund_csv_lines(*, filters: RefundListFilter) -> Iterator[str]:
    """The header, then one line per refund matching `filters`, newest first: a server-side cursor
    (`iterator`) over plain tuples, so a million refunds never sit in memory. Every text cell goes
    through the audit export's formula escaping (a note typed by staff could start with "=")."""
    writer = csv.writer(_Echo())
    yield writer.writerow(REFUND_CSV_COLUMNS)
    rows = refunds_filtered(filters=filters).values_list(*_CSV_FIELDS)
    for row in rows.iterator(chunk_size=2000):
        cells = list(row)
        cells[1] = cells[1].isoformat()
        cells[4] = money_to_decimal_text(cells[4], cells[5])
        cells[5] = cells[5].upper()
        yield writer.writerow([csv_safe("" if cell is None else cell) for cell in cells])
