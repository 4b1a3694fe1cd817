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


def test_a_coordinate_reads_as_floatformat_writes_it():
    from django.template.defaultfilters import floatformat

    from payments.selectors_chart import coordinate_text

    # Halves among them (2.25, 0.05): floatformat rounds them up where `:.1f` would not.
    values = [n / 100 for n in range(0, 70_000, 7)] + [14 + 152 * a / b for a in range(60) for b in range(1, 60)]
    assert [coordinate_text(value) for value in values] == [floatformat(value, 1) for value in values]


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_each_points_texts_read_as_the_filters_write_them(db, zone):
    from django.template import Context, Template

    customer = CustomerFactory()
    ledger_make(customer, [(LedgerEntry.Kind.PURCHASE, 1234567), (LedgerEntry.Kind.USAGE, -7)])
    filters = Template(
        "{% load humanize %}{{ p.at|date:'c' }} {{ p.at|date:'M j, Y H:i T' }} {{ p.at|date:'M j, Y' }} "
        "{{ p.credits_delta|stringformat:'+d' }} {{ p.balance|intcomma }} {{ p.balance }}"
    )
    with timezone.override(zone):
        for p in credits_chart(user=customer).points:
            texts = f"{p.when.iso} {p.when.text} {p.day} {p.delta_text} {p.balance_text} {p.balance_plain}"
            assert texts == filters.render(Context({"p": p}))
