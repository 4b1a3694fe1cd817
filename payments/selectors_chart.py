"""The picture of a customer's credits over time on the profile's Overview: the balance after each
of their last ledger entries, drawn as a small SVG on the server (no script, no style attribute)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property

from django.contrib.humanize.templatetags.humanize import intcomma

from accounts.models import User
from core.dates import MINUTES, TimeTexts, time_texts
from payments.models import LedgerEntry

CREDITS_CHART_ENTRIES = 60  # the last entries drawn: one index read, however long the history
CHART_WIDTH = 640
CHART_HEIGHT = 180
CHART_PAD_LEFT = 56  # room for the balance labels
CHART_PAD_RIGHT = 12
CHART_PAD_Y = 14

# The entries marked on the line, by the mark's name (its shape and class in portal.css).
MARKED_KINDS = {
    LedgerEntry.Kind.PURCHASE: "purchase",
    LedgerEntry.Kind.REFUND: "refund",
    LedgerEntry.Kind.REFUND_REVERSAL: "refund",
    LedgerEntry.Kind.ADJUSTMENT: "adjustment",
}


_TENTH = Decimal("0.1")


def coordinate_text(value: float) -> str:
    """A coordinate as `|floatformat:1` writes it (its shortest decimal form rounded half up, where
    `:.1f` would round the binary value: 2.25 → "2.3", not "2.2"), without the filter's ~15 µs of
    localisation, for a number that is never negative nor grouped."""
    return str(Decimal(repr(value)).quantize(_TENTH, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class ChartPoint:
    entry_id: int
    at: datetime
    kind: str
    kind_label: str
    credits_delta: int
    balance: int  # the ledger's balance_after
    x: float
    y: float
    mark: str  # "purchase", "refund", "adjustment" or "" (not marked)

    # The point's texts, worked out once each: the template prints a point up to four times (its
    # mark, its title, its row in the table), and 60 points through the `date`, `floatformat` and
    # `intcomma` filters took 11 ms. The same filters' own functions, so the same texts.
    @cached_property
    def x_text(self) -> str:
        return coordinate_text(self.x)

    @cached_property
    def y_text(self) -> str:
        return coordinate_text(self.y)

    @cached_property
    def balance_text(self) -> str:
        return intcomma(self.balance)

    @cached_property
    def balance_plain(self) -> str:
        """As `{{ balance }}` prints it (no grouping), for `data-balance`."""
        return str(self.balance)

    @cached_property
    def delta_text(self) -> str:
        return f"{self.credits_delta:+d}"

    @cached_property
    def when(self) -> TimeTexts:
        return time_texts(self.at, MINUTES)

    @cached_property
    def day(self) -> str:
        """As `|date:"M j, Y"`: the start of `when.text` ("M j, Y H:i T"), less its time and zone."""
        return self.when.text.rsplit(" ", 2)[0]


@dataclass(frozen=True)
class CreditsChart:
    points: list[ChartPoint]  # oldest first
    total_entries_shown: int
    more_before: bool  # older entries exist that the chart leaves out
    low: int  # the chart's floor (0, or a lower balance)
    high: int  # its ceiling: the highest balance
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    pad_left: int = CHART_PAD_LEFT

    @property
    def path(self) -> str:
        """The balance as a step line: flat until the next entry changes it."""
        if not self.points:
            return ""
        steps = [f"M{self.points[0].x:.1f},{self.points[0].y:.1f}"]
        for point in self.points[1:]:
            steps.append(f"H{point.x:.1f}V{point.y:.1f}")
        return " ".join(steps)

    @property
    def y_high(self) -> float:
        return CHART_PAD_Y

    @property
    def y_low(self) -> float:
        return self.height - CHART_PAD_Y

    @property
    def first(self) -> ChartPoint | None:
        return self.points[0] if self.points else None

    @property
    def last(self) -> ChartPoint | None:
        return self.points[-1] if self.points else None

    def count(self, mark: str) -> int:
        return sum(1 for point in self.points if point.mark == mark)

    @property
    def lowest(self) -> int:
        return min(point.balance for point in self.points)

    @property
    def highest(self) -> int:
        return max(point.balance for point in self.points)

    @property
    def purchases(self) -> int:
        return self.count("purchase")

    @property
    def refunds(self) -> int:
        return self.count("refund")

    @property
    def adjustments(self) -> int:
        return self.count("adjustment")


def credits_chart(*, user: User, limit: int = CREDITS_CHART_ENTRIES) -> CreditsChart:
    """The customer's balance after each of their last `limit` ledger entries, oldest first, placed
    on the chart: one query (the newest-first index on (user, created_at, id)). Each point's
    balance is the entry's own `balance_after`, never a sum worked out here."""
    rows = list(
        LedgerEntry.objects.filter(user=user)
        .order_by("-created_at", "-id")
        .values_list("id", "created_at", "kind", "credits_delta", "balance_after")[: limit + 1]
    )
    more_before = len(rows) > limit
    rows = rows[:limit][::-1]
    if not rows:
        return CreditsChart(points=[], total_entries_shown=0, more_before=False, low=0, high=0)
    low = min(0, *(row[4] for row in rows))
    high = max(row[4] for row in rows) or 1
    span_x = CHART_WIDTH - CHART_PAD_LEFT - CHART_PAD_RIGHT
    span_y = CHART_HEIGHT - 2 * CHART_PAD_Y
    step = span_x / max(len(rows) - 1, 1)
    labels = dict(LedgerEntry.Kind.choices)
    points = [
        ChartPoint(
            entry_id=pk,
            at=at,
            kind=kind,
            kind_label=labels.get(kind, kind),
            credits_delta=delta,
            balance=balance,
            x=CHART_PAD_LEFT + (n * step if len(rows) > 1 else span_x / 2),
            y=CHART_PAD_Y + span_y * (high - balance) / (high - low),
            mark=MARKED_KINDS.get(kind, ""),
        )
        for n, (pk, at, kind, delta, balance) in enumerate(rows)
    ]
    return CreditsChart(points=points, total_entries_shown=len(points), more_before=more_before, low=low, high=high)
