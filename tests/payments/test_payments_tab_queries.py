"""The profile's Payments and Activity tabs cost a fixed number of SQL queries, however long the
customer's history: 500 payments (some refunded, some with a refund pending) or 10,000 ledger
entries take no more queries than one of each. bench/ measures their time on a million users."""

import uuid
from datetime import timedelta

import pytest
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import FINANCE
from notifications.models import SmsMessage
from payments.models import LedgerEntry, Payment
from refunds.models import Refund
from tests.factories import CustomerFactory, StaffFactory

MANY_PAYMENTS = 500
MANY_ENTRIES = 10_000


def history_make(customer, *, payments: int, entries: int, messages: int = 0, refunded_every: int = 10) -> None:
    """`payments` payments with their purchase entries, then uses of credits up to `entries`
    ledger entries; a refund on every `refunded_every`-th payment from the newest (the newest's
    still pending, the next one's succeeded, and so on)."""
    now = timezone.now()
    made = Payment.objects.bulk_create(
        Payment(
            user=customer,
            gateway="sandbox",
            gateway_id=f"pi_sandbox_tab_{customer.pk}_{n}",
            description="Starter pack — 100 credits",
            amount=1900,
            currency="USD",
            credits_bought=100,
            created_at=now - timedelta(hours=payments - n),
        )
        for n in range(payments)
    )
    rows = [
        LedgerEntry(
            user=customer,
            kind=LedgerEntry.Kind.PURCHASE,
            credits_delta=100,
            money_delta=1900,
            currency="USD",
            balance_after=100 * (n + 1),
            payment=payment,
        )
        for n, payment in enumerate(made)
    ]
    balance = 100 * payments
    for _ in range(entries - payments):
        balance -= 1
        rows.append(LedgerEntry(user=customer, kind=LedgerEntry.Kind.USAGE, credits_delta=-1, balance_after=balance))
    LedgerEntry.objects.bulk_create(rows)
    customer.credits = balance
    customer.save(update_fields=["credits"])
    Refund.objects.bulk_create(
        Refund(
            payment=payment,
            type=Refund.Type.PARTIAL,
            reason=Refund.Reason.REQUESTED_BY_CUSTOMER,
            amount=100,
            currency="USD",
            status=Refund.Status.SUCCEEDED if n % 2 else Refund.Status.PENDING,
            idempotency_key=uuid.uuid4().hex,
        )
        for n, payment in enumerate(made[::-refunded_every])
    )
    SmsMessage.objects.bulk_create(
        SmsMessage(user=customer, to=customer.phone, body=f"Notice {n}", status=SmsMessage.Status.SENT)
        for n in range(messages)
    )


@pytest.fixture
def finance_client(client, db):
    """Finance sees the refund menu on every payment: the page asks for permissions too."""
    client.force_login(StaffFactory(roles=[FINANCE]))
    return client


def queries_for(client, url: str, **headers) -> int:
    from django.db import connection

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return len(captured)


@pytest.fixture
def short_history(db):
    customer = CustomerFactory()
    history_make(customer, payments=1, entries=2, messages=1, refunded_every=1)
    return customer


def test_the_payments_tab_takes_no_more_queries_for_500_payments_than_for_one(
    finance_client, short_history, django_assert_max_num_queries
):
    baseline = queries_for(finance_client, reverse("user_payments", args=[short_history.pk]))
    customer = CustomerFactory()
    history_make(customer, payments=MANY_PAYMENTS, entries=MANY_PAYMENTS + 50)

    with django_assert_max_num_queries(baseline):
        response = finance_client.get(reverse("user_payments", args=[customer.pk]))

    assert response.status_code == 200
    # The newest ten payments are shown, with the pager to the older ones.
    assert response.content.count(b'<tr id="payment-') == 10
    assert b"Older payments" in response.content
    assert baseline <= 12  # session, staff, permissions, customer, recent credit changes, payments


def test_older_payments_take_no_more_queries_deep_in_a_long_history(finance_client, django_assert_max_num_queries):
    short = CustomerFactory()
    history_make(short, payments=20, entries=20)
    second_page = Payment.objects.filter(user=short).order_by("-created_at", "-id").values_list("pk", flat=True)[9]
    baseline = queries_for(finance_client, reverse("user_payments", args=[short.pk]) + f"?before={second_page}")
    customer = CustomerFactory()
    history_make(customer, payments=MANY_PAYMENTS, entries=MANY_PAYMENTS)
    deep = Payment.objects.filter(user=customer).order_by("-created_at", "-id").values_list("pk", flat=True)[399]

    # The keyset boundary is one indexed lookup, wherever the page starts.
    with django_assert_max_num_queries(baseline):
        response = finance_client.get(reverse("user_payments", args=[customer.pk]), {"before": deep})

    assert response.status_code == 200
    assert response.content.count(b'<tr id="payment-') == 10


def test_the_past_payments_refresh_after_a_refund_takes_no_more_queries_for_500_payments(
    finance_client, short_history, django_assert_max_num_queries
):
    url = reverse("past_payments", args=[short_history.pk])
    baseline = queries_for(finance_client, url, hx_request="true", hx_target="past-payments")
    customer = CustomerFactory()
    history_make(customer, payments=MANY_PAYMENTS, entries=MANY_PAYMENTS)

    with django_assert_max_num_queries(baseline):
        response = finance_client.get(
            reverse("past_payments", args=[customer.pk]), headers={"hx-request": "true", "hx-target": "past-payments"}
        )

    assert response.status_code == 200
    # Of the newest ten payments, the newest has a refund, still pending: counted in the same query.
    assert response.content.count(b"Refund pending") == 1
    assert response.content.count(b"View refunds") == 1


def test_the_activity_tab_takes_no_more_queries_for_10000_entries_than_for_two(
    finance_client, short_history, django_assert_max_num_queries
):
    baseline = queries_for(finance_client, reverse("user_activity", args=[short_history.pk]))
    customer = CustomerFactory()
    history_make(customer, payments=1000, entries=MANY_ENTRIES, messages=120)

    with django_assert_max_num_queries(baseline):
        response = finance_client.get(reverse("user_activity", args=[customer.pk]))

    assert response.status_code == 200
    assert b"Older entries" in response.content
    assert b"Showing the 50 most recent messages" in response.content


def test_older_entries_take_no_more_queries_deep_in_a_long_history(
    finance_client, short_history, django_assert_max_num_queries
):
    customer = CustomerFactory()
    history_make(customer, payments=1000, entries=MANY_ENTRIES)
    url = reverse("credit_history", args=[customer.pk])
    first_page = queries_for(finance_client, url, hx_request="true", hx_target="credit-history")
    deep = LedgerEntry.objects.filter(user=customer).order_by("-id").values_list("pk", flat=True)[9000]

    with django_assert_max_num_queries(first_page):
        response = finance_client.get(
            url, {"before": deep}, headers={"hx-request": "true", "hx-target": "credit-history"}
        )

    assert response.status_code == 200
    assert b"Older entries" in response.content


@pytest.mark.parametrize("length", [3, 12, 40])
def test_each_page_of_past_payments_counts_its_own_refunds_at_every_history_length(
    db, length, django_assert_num_queries
):
    """The page is taken first, then each row counts its refunds: the counts must be each payment's own."""
    from payments.models import REFUND_UNSETTLED_STATUSES
    from payments.selectors import payment_history

    customer = CustomerFactory()
    history_make(customer, payments=length, entries=length, refunded_every=3)
    CustomerFactory()  # someone else's refunds must not count
    expected = list(Payment.objects.filter(user=customer).order_by("-created_at", "-id"))
    seen, before, pages = [], None, 0
    while True:
        with django_assert_num_queries(1 if before is None else 2):  # the page; and its boundary
            page = payment_history(user=customer, before=before)
        pages += 1
        for payment in page.payments:
            refunds = Refund.objects.filter(payment=payment)
            assert payment.refund_count == refunds.count()
            assert payment.unsettled_refund_count == refunds.filter(status__in=REFUND_UNSETTLED_STATUSES).count()
        seen += page.payments
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == expected
    assert pages == -(-length // 10)
    assert any(p.refund_count for p in seen) and any(p.unsettled_refund_count for p in seen)
