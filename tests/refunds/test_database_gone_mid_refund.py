"""PostgreSQL goes away while a refund is at the gateway: the gateway refunds, and the answer
cannot be recorded. The staff member is told in words what happened and not to refund again (no
error page that invites a second refund); once the database is back the payment shows the
refund pending, and reconciliation settles it with the same key: one refund at Stripe."""

import re

import pytest
from django.db import OperationalError, connection
from django.urls import reverse

from payments.models import LedgerEntry
from refunds.models import Refund
from refunds.services import refunds_reconcile
from tests.factories import stripe_payment

pytestmark = pytest.mark.django_db(transaction=True)


def database_gone(*args, **kwargs):
    """From here on every query fails, as on a connection PostgreSQL has dropped."""

    def refuse(execute, sql, params, many, context):
        raise OperationalError("server closed the connection unexpectedly")

    connection.execute_wrappers.append(refuse)
    raise OperationalError("server closed the connection unexpectedly")


@pytest.fixture
def finance_client(client, finance):
    client.force_login(finance)
    return client


def refund_form(client, payment) -> dict:
    html = client.get(reverse("refund_create", args=[payment.user_id, payment.pk])).content.decode()
    values = dict(re.findall(r'name="(\w+)" value="([^"]*)"', html))
    return {
        "type": "partial",
        "amount": "25.00",
        "reason": "requested_by_customer",
        "note": "",
        "credits_to_remove": "0",
        "idempotency_key": values["idempotency_key"],
        "expected_reserved": values["expected_reserved"],
    }


@pytest.mark.parametrize("htmx", [True, False], ids=["dialog", "no-javascript page"])
def test_the_staff_member_is_told_not_to_refund_again_and_it_settles_once(
    finance_client, stripe_api, settings, monkeypatch, htmx
):
    settings.RECONCILE_AFTER_SECONDS = 0
    payment = stripe_payment()
    data = refund_form(finance_client, payment)
    monkeypatch.setattr("refunds.services.request.refund_record_answer", database_gone)
    try:
        response = finance_client.post(
            reverse("refund_create", args=[payment.user_id, payment.pk]),
            data,
            headers={"HX-Request": "true"} if htmx else {},
        )
    finally:
        connection.execute_wrappers.clear()  # the database is back
    monkeypatch.undo()

    assert response.status_code == 503
    page = response.content.decode()
    assert "Refund sent — not confirmed yet" in page
    assert "Do not refund this payment again." in page
    assert "$25.00" in page
    assert len(stripe_api.creates()) == 1  # Stripe did refund

    refund = Refund.objects.get()
    assert refund.status == Refund.Status.PENDING
    tab = finance_client.get(reverse("user_payments", args=[payment.user_id])).content.decode()
    assert "Refund pending" in tab

    refunds_reconcile()
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert len(stripe_api.refunds) == 1  # the same key again: Stripe replayed, no second refund
    assert LedgerEntry.objects.filter(refund_id=refund.pk, kind="refund").count() == 1
