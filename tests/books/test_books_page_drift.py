"""The Books page's Gateway drift section: Finance sees the last drift report's exceptions, each
with a link to its customer's Payments tab; Support does not see the Books page at all."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from accounts.roles import FINANCE, SUPPORT
from books.drift import DriftException, DriftReport
from books.models import DriftCheck
from books.services import drift_check_record
from tests.factories import CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db

Kind = DriftCheck.Kind


@pytest.fixture
def finance_client(client):
    client.force_login(StaffFactory(roles=[FINANCE]))
    return client


def report(*exceptions: DriftException) -> DriftReport:
    return DriftReport(
        since=datetime(2026, 11, 1, tzinfo=UTC),
        until=datetime(2026, 12, 1, tzinfo=UTC),
        counts={"stripe": {"listed": 120, "here": 119, "matched": 118}},
        exceptions=list(exceptions),
        seconds=1.25,
    )


def test_it_says_when_no_drift_report_has_run_yet(finance_client):
    page = finance_client.get(reverse("books")).content.decode()
    assert '<h2 id="books-drift">Gateway drift</h2>' in page
    assert "have not been compared with the gateways yet" in page


def test_it_lists_each_exception_with_a_link_to_the_customers_payments_tab(finance_client):
    customer, other = CustomerFactory(), CustomerFactory()
    drift_check_record(
        report=report(
            DriftException(
                kind=Kind.STATUS_DIFFERS,
                gateway="stripe",
                detail="here $25.00 succeeded, at the gateway $25.00 failed",
                gateway_refund_id="re_3Moved",
                refund_id=34,
                payment_id=12,
                customer_id=customer.pk,
            ),
            DriftException(
                kind=Kind.ADOPTED,
                gateway="stripe",
                detail="$40.00 succeeded at the gateway, not here: recorded as made outside the portal (succeeded)",
                gateway_refund_id="re_3Dashboard",
                refund_id=35,
                payment_id=13,
                customer_id=other.pk,
            ),
            DriftException(kind=Kind.GATEWAY_UNAVAILABLE, gateway="stripe", detail="Stripe did not list its refunds"),
        )
    )

    response = finance_client.get(reverse("books"))

    assert response.status_code == 200
    page = response.content.decode()
    assert '<h2 id="books-drift">Gateway drift: 2 exceptions for a person</h2>' in page
    assert "Nov 1, 2026 00:00</time> to" in page and "Stripe: 120 listed, 119 here, 118 matched" in page
    assert f'<a href="{reverse("user_payments", args=[customer.pk])}">Refund 34 on payment 12</a>' in page
    assert f'<a href="{reverse("user_payments", args=[other.pk])}">Refund 35 on payment 13</a>' in page
    assert "<td>Here $25.00 succeeded, at the gateway $25.00 failed</td>" in page
    assert "<strong>A person</strong>" in page and "Recorded by the report" in page
    assert '<td class="nowrap">Stripe</td>' in page  # the gateway itself: no customer to link to


def test_a_report_with_nothing_for_a_person_says_so(finance_client):
    drift_check_record(report=report())
    page = finance_client.get(reverse("books")).content.decode()
    assert "Gateway drift: nothing for a person" in page
    assert "Every refund here agrees with the gateway" in page


def test_support_cannot_see_the_drift_report(client):
    drift_check_record(report=report())
    client.force_login(StaffFactory(roles=[SUPPORT]))
    assert client.get(reverse("books")).status_code == 403
