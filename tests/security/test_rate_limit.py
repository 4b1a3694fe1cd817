"""Executing refunds is rate-limited per staff member, counted in PostgreSQL across processes."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from accounts.roles import FINANCE
from core.ratelimit.models import RateLimitWindow
from core.ratelimit.services import rate_limit_hit
from refunds.models import Refund
from tests.concurrency import run_together
from tests.factories import PaymentFactory
from tests.people import staff_with_role

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true", "HX-Target": "refund-panel"}
LIMITED = "Too many refund submissions: at most 3 a minute per staff member."


@pytest.fixture(autouse=True)
def limit(settings):
    settings.REFUND_RATE_LIMIT_PER_MINUTE = 3


@pytest.fixture
def payment(db):
    return PaymentFactory()


def refund_form(payment, key: str) -> dict:
    return {
        "type": "partial",
        "amount": "10.00",
        "reason": "requested_by_customer",
        "note": "",
        "credits_to_remove": "0",
        "idempotency_key": key * 16,
        "expected_reserved": "0",
    }


def staff_client(client: Client, payment):
    client.force_login(staff_with_role(FINANCE))
    return client, reverse("refund_create", args=[payment.user.pk, payment.pk])


def test_over_the_limit_the_refund_panel_says_so_with_429_and_nothing_is_refunded(client, payment):
    client, url = staff_client(client, payment)
    for _ in range(3):
        assert client.post(url, {}, headers=HX).status_code == 422  # submissions count, valid or not

    response = client.post(url, refund_form(payment, "a"), headers=HX)

    assert response.status_code == 429
    html = response.content.decode()
    assert LIMITED in html
    assert 'id="refund-panel"' in html  # the panel htmx swaps in, with the message as a form error
    assert 'role="alert"' in html
    assert not Refund.objects.exists()


def test_without_htmx_the_refund_page_says_so_with_429(client, payment):
    client, url = staff_client(client, payment)
    for _ in range(3):
        client.post(url, {})

    response = client.post(url, refund_form(payment, "b"))

    assert response.status_code == 429
    assert LIMITED in response.content.decode()


def test_the_limit_is_per_staff_member(client, payment):
    first, url = staff_client(client, payment)
    for _ in range(4):
        first.post(url, {}, headers=HX)

    second, _ = staff_client(Client(), payment)
    assert second.post(url, {}, headers=HX).status_code == 422


def test_the_next_minute_starts_afresh(client, payment):
    client, url = staff_client(client, payment)
    for _ in range(4):
        client.post(url, {}, headers=HX)
    RateLimitWindow.objects.update(window_start=RateLimitWindow.objects.get().window_start - timedelta(minutes=1))

    assert client.post(url, {}, headers=HX).status_code == 422
    assert RateLimitWindow.objects.count() == 1  # the old window went when the new one started


def test_getting_the_form_does_not_count(client, payment):
    client, url = staff_client(client, payment)
    for _ in range(5):
        assert client.get(url, headers={"HX-Request": "true"}).status_code == 200
    assert client.post(url, {}, headers=HX).status_code == 422


def test_htmx_swaps_a_429_into_the_page():
    base = (Path(__file__).resolve().parents[2] / "templates" / "base.html").read_text()
    assert '{"code": "429", "swap": true}' in base
    assert base.index('"429"') < base.index('"[45].."')  # before the rule that refuses other errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_attempts_from_many_connections_are_each_counted_once():
    # What several web processes do at once: each request on its own database connection.
    results = run_together(lambda i: rate_limit_hit(scope="test", key="staff-1", limit=10, window_seconds=3600), 24)

    assert results.count(False) == 10
    assert results.count(True) == 14
    assert RateLimitWindow.objects.get(scope="test", key="staff-1").hits == 24
