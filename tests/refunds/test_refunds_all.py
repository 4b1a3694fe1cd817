"""The Refunds page across customers: filters alone and together, keyset pages, and its CSV."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import ADMINISTRATOR, FINANCE, SUPPORT
from audit.models import AuditEvent
from refunds.audit import RefundAction
from refunds.models import Refund
from refunds.selectors_list import RefundCursor, RefundListFilter, refunds_filtered, refunds_page
from tests.factories import PaymentFactory, RefundFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance_client(client):
    member = StaffFactory(first_name="Fran", last_name="Finance", roles=[FINANCE])
    client.force_login(member)
    client.member = member
    return client


@pytest.fixture
def refunds(db):
    """Five refunds that differ in one thing each from the first."""
    alice = StaffFactory(first_name="Alice", roles=[FINANCE], passwordless=True)
    bob = StaffFactory(first_name="Bob", roles=[FINANCE], passwordless=True)
    eur = PaymentFactory(currency="EUR")
    day = datetime(2026, 11, 10, 12, tzinfo=UTC)
    return {
        "usd_pending": RefundFactory(requested_by=alice, amount=2500, created_at=day),
        "usd_failed": RefundFactory(requested_by=alice, amount=1000, status=Refund.Status.FAILED, created_at=day),
        "usd_awaiting": RefundFactory(
            requested_by=bob, amount=9000, status=Refund.Status.AWAITING_APPROVAL, created_at=day
        ),
        "eur_full": RefundFactory(
            payment=eur, requested_by=bob, amount=10000, type=Refund.Type.FULL, created_at=day - timedelta(days=5)
        ),
        "usd_credits": RefundFactory(
            requested_by=alice, amount=500, type=Refund.Type.CREDITS, status=Refund.Status.SUCCEEDED, created_at=day
        ),
        "alice": alice,
        "bob": bob,
    }


def found(refunds, **filters) -> set[str]:
    ids = set(refunds_filtered(filters=RefundListFilter(**filters)).values_list("pk", flat=True))
    return {name for name, refund in refunds.items() if isinstance(refund, Refund) and refund.pk in ids}


def test_each_filter_alone_keeps_only_what_it_names(refunds):
    assert found(refunds) == {"usd_pending", "usd_failed", "usd_awaiting", "eur_full", "usd_credits"}  # control
    assert found(refunds, status="pending") == {"usd_pending", "eur_full"}
    assert found(refunds, status="failed") == {"usd_failed"}
    assert found(refunds, status="awaiting_approval") == {"usd_awaiting"}
    assert found(refunds, staff_id=refunds["bob"].pk) == {"usd_awaiting", "eur_full"}
    assert found(refunds, since=datetime(2026, 11, 10).date()) == {
        "usd_pending",
        "usd_failed",
        "usd_awaiting",
        "usd_credits",
    }
    assert found(refunds, until=datetime(2026, 11, 9).date()) == {"eur_full"}
    assert found(refunds, currency="EUR") == {"eur_full"}
    assert found(refunds, type="credits") == {"usd_credits"}
    assert found(refunds, amount_min=2500) == {"usd_pending", "usd_awaiting", "eur_full"}
    assert found(refunds, amount_max=1000) == {"usd_failed", "usd_credits"}


def test_filters_combine(refunds):
    assert found(refunds, staff_id=refunds["alice"].pk, currency="USD", amount_min=1000, amount_max=2500) == {
        "usd_pending",
        "usd_failed",
    }
    assert found(refunds, staff_id=refunds["alice"].pk, status="pending", type="partial") == {"usd_pending"}
    assert found(refunds, currency="EUR", status="failed") == set()


def test_the_page_parses_amounts_in_major_units_of_the_currency(finance_client, refunds):
    response = finance_client.get(reverse("refunds_all"), {"currency": "USD", "amount_min": "25.00"})
    assert response.status_code == 200
    shown = {refund.pk for refund in response.context["page"].refunds}
    assert shown == {refunds["usd_pending"].pk, refunds["usd_awaiting"].pk}


@pytest.mark.parametrize(
    "query, field",
    [
        ({"amount_min": "10"}, "amount_min"),  # no currency
        ({"currency": "USD", "amount_min": "ten"}, "amount_min"),
        ({"currency": "JPY", "amount_max": "10.5"}, "amount_max"),
        ({"currency": "USD", "amount_min": "20", "amount_max": "10"}, "amount_max"),
        ({"since": "2026-12-01", "until": "2026-11-01"}, "until"),
        ({"since": "not a date"}, "since"),
        ({"status": "lost"}, "status"),
        ({"currency": "XXX"}, "currency"),
        ({"staff": "999999999"}, "staff"),
        ({"after": "9999999999999999999999.1"}, "__all__"),
        ({"after": "abc"}, "__all__"),
        ({"after": "1" * 50}, "after"),
    ],
)
def test_bad_filters_are_a_form_error_not_a_crash(finance_client, query, field):
    response = finance_client.get(reverse("refunds_all"), query)
    assert response.status_code == 422
    assert field in response.context["form"].errors
    assert 'class="field-error" role="alert"' in response.text  # said on the page, beside the filters
    assert finance_client.get(reverse("refunds_export"), query).status_code == 400


def test_keyset_pages_walk_every_refund_once_newest_first(db):
    same_time = timezone.now() - timedelta(hours=1)
    made = [RefundFactory(created_at=same_time) for _ in range(4)]
    made += [RefundFactory(created_at=same_time - timedelta(minutes=minute)) for minute in range(1, 4)]
    seen, cursor = [], None
    while True:
        page = refunds_page(after=cursor, limit=3)
        seen += [refund.pk for refund in page.refunds]
        if page.next_cursor is None:
            break
        cursor = RefundCursor.parse(page.next_cursor)
    expected = sorted(made, key=lambda refund: (refund.created_at, refund.pk), reverse=True)
    assert seen == [refund.pk for refund in expected]


def test_the_page_links_each_refund_to_its_payment_and_pages_on(finance_client, refunds):
    response = finance_client.get(reverse("refunds_all"), {"status": "pending"})
    assert response.status_code == 200
    refund = refunds["usd_pending"]
    assert f"{reverse('user_payments', args=[refund.payment.user_id])}#payment-{refund.payment_id}" in response.text
    RefundFactory.create_batch(60)
    first = finance_client.get(reverse("refunds_all")).context["page"]
    assert len(first.refunds) == 50 and first.next_cursor
    second = finance_client.get(reverse("refunds_all"), {"after": first.next_cursor}).context["page"]
    assert not {r.pk for r in first.refunds} & {r.pk for r in second.refunds}
    assert len(first.refunds) + len(second.refunds) == Refund.objects.count()


@pytest.mark.parametrize("role, allowed", [(SUPPORT, False), (FINANCE, True), (ADMINISTRATOR, True)])
def test_only_finance_and_administrators_see_every_customers_refunds(client, role, allowed):
    member = StaffFactory(roles=[role])
    client.force_login(member)
    page = client.get(reverse("refunds_all"))
    assert page.status_code == (200 if allowed else 403)
    assert client.get(reverse("refunds_export")).status_code == (200 if allowed else 403)
    nav = client.get(reverse("user_list")).text
    assert (f'href="{reverse("refunds_all")}"' in nav) is allowed


def exported(client, **query) -> list[dict]:
    response = client.get(reverse("refunds_export"), query)
    assert response.status_code == 200
    assert response.streaming
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_csv_export_has_the_filtered_view_escaped_and_is_audited(finance_client, refunds):
    formula = RefundFactory(amount=1234, reason=Refund.Reason.OTHER, note='=HYPERLINK("https://evil.example")')
    rows = exported(finance_client, currency="USD", amount_min="12.34", amount_max="12.34")
    assert [row["refund_id"] for row in rows] == [str(formula.pk)]
    [row] = rows
    assert row["note"] == "'" + formula.note
    assert row["amount"] == "12.34" and row["currency"] == "USD" and row["status"] == "pending"
    assert row["customer_email"] == formula.payment.user.email
    event = AuditEvent.objects.get(action=RefundAction.EXPORTED)
    assert event.actor == finance_client.member
    assert event.after["filters"]["currency"] == "USD" and event.after["filters"]["amount_min"] == 1234
    everything = exported(finance_client)
    assert len(everything) == Refund.objects.count()
