"""A page of the Audit log takes the same queries whatever its rows: each row's customer comes with
the events, what it is about is named from Django's cache of content types, and nothing reads its
actor (the row shows `actor_label`)."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from payments.audit import PaymentAction
from payments.models import LedgerEntry
from refunds.models import Refund
from tests.factories import AuditEventFactory, CustomerFactory

pytestmark = pytest.mark.django_db

FILTERS = [
    {},
    {"staff": "actor"},
    {"customer": "pat.busy@example.com"},
    {"action": PaymentAction.CREDITS_ADJUSTED},
    {"since": "2000-01-01", "until": "2999-12-31"},
]


def event(*, actor, customer, n: int):
    """An event as varied as a real page's: its own customer, what it is about, a payment and a
    staff member to link to, money in a currency."""
    about = [LedgerEntry, Refund, User][n % 3]
    return AuditEventFactory(
        actor=actor,
        target_user=customer or CustomerFactory(),
        about_type=ContentType.objects.get_for_model(about),
        about_id=n + 1,
        before={"credits": n, "amount_refunded": 0, "currency": "EUR"},
        after={"credits": n + 5, "gateway_id": f"pi_{n}", "requested_by": actor.pk, "amount": 100 + n},
    )


def page_queries(client, params) -> tuple[int, str]:
    client.get(reverse("audit_log"), params)  # warm per-process caches (content types), emptied by other tests
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("audit_log"), params).content.decode()
    return len(queries.captured_queries), html


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f) or "none")
def test_a_page_takes_the_same_queries_for_2_events_as_for_50(admin_client, filters):
    busy = CustomerFactory(first_name="Pat", last_name="Busy", email="pat.busy@example.com")
    actor = admin_client.admin
    params = {k: (actor.pk if v == "actor" else v) for k, v in filters.items()}
    for n in range(2):
        event(actor=actor, customer=busy, n=n)
    few, html = page_queries(admin_client, params)
    assert html.count('<ul class="change-list">') == 2  # else the comparison below is of empty pages
    for n in range(2, 50):
        event(actor=actor, customer=busy if filters.get("customer") else None, n=n)
    many, html = page_queries(admin_client, params)
    assert html.count('<ul class="change-list">') == 50
    assert "Refund #" in html and "Ledger entry #" in html and "pi_49" in html
    assert many == few
