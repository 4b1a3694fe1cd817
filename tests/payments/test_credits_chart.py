"""The Overview's picture of credits over time: drawn from the ledger's own balances, marked by
kind, with its text alternative, CSP-clean, at one query however long the history."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from payments.models import LedgerEntry
from payments.selectors_chart import credits_chart
from tests.factories import CustomerFactory


def ledger_make(customer, kinds_and_deltas, *, start=None) -> list[LedgerEntry]:
    start = start or timezone.now() - timedelta(days=len(kinds_and_deltas))
    balance, rows = 0, []
    for n, (kind, delta) in enumerate(kinds_and_deltas):
        balance += delta
        rows.append(
            LedgerEntry(
                user=customer,
                kind=kind,
                credits_delta=delta,
                balance_after=balance,
                created_at=start + timedelta(days=n),
            )
        )
    return LedgerEntry.objects.bulk_create(rows)


HISTORY = [
    (LedgerEntry.Kind.OPENING, 10),
    (LedgerEntry.Kind.PURCHASE, 100),
    (LedgerEntry.Kind.USAGE, -30),
    (LedgerEntry.Kind.REFUND, -50),
    (LedgerEntry.Kind.ADJUSTMENT, 25),
    (LedgerEntry.Kind.REFUND_REVERSAL, 50),
    (LedgerEntry.Kind.PURCHASE, 100),
]


def test_the_chart_points_are_the_ledger_balances_oldest_first(db):
    customer = CustomerFactory()
    ledger_make(customer, HISTORY)
    ledger_make(CustomerFactory(), HISTORY)  # nobody else's

    chart = credits_chart(user=customer)

    expected = list(LedgerEntry.objects.filter(user=customer).order_by("created_at", "id"))
    assert [point.balance for point in chart.points] == [entry.balance_after for entry in expected]
    assert [point.entry_id for point in chart.points] == [entry.pk for entry in expected]
    assert [point.mark for point in chart.points] == [
        "", "purchase", "", "refund", "adjustment", "refund", "purchase"
    ]  # fmt: skip
    assert (chart.purchases, chart.refunds, chart.adjustments) == (2, 2, 1)
    # Higher balances are drawn higher (smaller y), left to right in time.
    ys = {point.balance: point.y for point in chart.points}
    assert ys[205] < ys[110] < ys[10]
    assert [point.x for point in chart.points] == sorted(point.x for point in chart.points)


@pytest.mark.parametrize("entries", [3, 500])
def test_the_chart_reads_one_query_and_the_last_entries_only(db, entries, django_assert_num_queries):
    customer = CustomerFactory()
    ledger_make(customer, [(LedgerEntry.Kind.PURCHASE, 1)] * entries)

    with django_assert_num_queries(1):
        chart = credits_chart(user=customer, limit=60)

    assert len(chart.points) == min(entries, 60)
    assert chart.more_before == (entries > 60)
    assert chart.last.balance == entries  # the newest entry's balance is the last point


def test_the_overview_shows_the_chart_with_its_summary_and_table_and_no_style_attribute(staff_client):
    customer = CustomerFactory()
    ledger_make(customer, HISTORY)

    html = staff_client.get(reverse("user_detail", args=[customer.pk])).content.decode()

    svg = re.search(r"<svg class=\"credits-chart-svg\".*?</svg>", html, re.S).group(0)
    assert "style=" not in svg and "<script" not in svg
    assert 'role="img"' in svg and 'aria-describedby="credits-chart-summary"' in svg
    assert svg.count("chart-mark-purchase") == 2
    assert svg.count("chart-mark-refund") == 2
    assert svg.count("chart-mark-adjustment") == 1
    assert re.findall(r'data-balance="(\d+)"', svg) == ["10", "110", "80", "30", "55", "105", "205"]
    summary = re.search(r'<p id="credits-chart-summary"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert "from 10 to 205 credits" in " ".join(summary.split())
    assert "lowest 10, highest 205" in " ".join(summary.split())
    assert "2 purchases, 2 refunds and 1 adjustment marked" in " ".join(summary.split())
    table = re.search(r'<details class="credits-chart-data">.*?</details>', html, re.S).group(0)
    assert table.count("<tr>") == 1 + len(HISTORY)


def test_a_customer_with_no_ledger_entries_gets_a_sentence_not_an_empty_chart(staff_client):
    customer = CustomerFactory()
    html = staff_client.get(reverse("user_detail", args=[customer.pk])).content.decode()
    assert "No credit changes yet: nothing to draw." in html
    assert '<svg class="credits-chart-svg"' not in html
