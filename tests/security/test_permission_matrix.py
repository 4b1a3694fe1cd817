"""Every URL of the portal, and every HTMX partial, asked by every kind of visitor.

The matrix (`tests/security/url_matrix.py`) is the portal's access policy in one place.
`test_every_url_is_in_the_matrix` walks the URL resolver: a URL added without a row there fails
the suite, so nobody adds a page without saying who may see it.
"""

import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY

from accounts.roles import ADMINISTRATOR
from payments.models import CreditBatch, CreditChangeRequest, Payment
from refunds.models import Refund
from tests.factories import PaymentFactory, SmsMessageFactory
from tests.people import staff_with_role, totp_device_confirmed
from tests.security.url_matrix import (
    ADMIN_2FA,
    ANONYMOUS,
    CUSTOMER,
    FINANCE_STAFF,
    MATRIX,
    PASSWORD_ONLY,
    STAFF_ROLES,
    VISITORS,
    Redirect,
    url_patterns,
)

pytestmark = pytest.mark.django_db


def test_every_url_is_in_the_matrix():
    in_project = {key for key, _, _ in url_patterns()}
    assert in_project - MATRIX.keys() == set(), "URLs with no row in MATRIX (say who may see them)"
    assert MATRIX.keys() - in_project == set(), "rows in MATRIX for URLs that no longer exist"


def test_every_row_says_what_each_visitor_gets():
    for key, probes in MATRIX.items():
        for probe in probes:
            assert set(probe.expect) == set(VISITORS), (key, probe.label())


@pytest.fixture
def world(db):
    """Who asks, and what there is to ask about."""
    payment = PaymentFactory()
    customer = payment.user
    people = {CUSTOMER: customer_with_password()}
    for visitor, role in STAFF_ROLES.items():
        people[visitor] = staff_with_role(role, email=f"{visitor}@statstak.test")
    people[ADMIN_2FA] = staff_with_role(ADMINISTRATOR, email="admin-2fa@statstak.test")
    people[PASSWORD_ONLY] = staff_with_role(ADMINISTRATOR, email="admin-password-only@statstak.test")
    refund = Refund.objects.create(
        requested_by=people[FINANCE_STAFF],
        payment=payment,
        type=Refund.Type.PARTIAL,
        reason=Refund.Reason.DUPLICATE,
        amount=100,
        currency=payment.currency,
        status=Refund.Status.SUCCEEDED,
        idempotency_key="matrix-refund",
    )
    Payment.objects.filter(pk=payment.pk).update(amount_refunded=100, status=Payment.Status.PARTIALLY_REFUNDED)
    devices = {visitor: totp_device_confirmed(people[visitor]) for visitor in (ADMIN_2FA, PASSWORD_ONLY)}
    url_kwargs = {
        "pk": customer.pk,
        "payment_pk": payment.pk,
        "message_id": SmsMessageFactory(user=customer).pk,
        "refund_pk": refund.pk,
        # A credit change already decided: refused (422) once past the access checks.
        "change_pk": CreditChangeRequest.objects.create(
            user=customer,
            balance_before=0,
            new_balance=5000,
            requested_by=people[FINANCE_STAFF],
            status=CreditChangeRequest.Status.REJECTED,
        ).pk,
        # A bulk credits file already applied: applying it again is refused (422).
        "batch_pk": CreditBatch.objects.create(
            filename="matrix.csv",
            content_sha256="0" * 64,
            status=CreditBatch.Status.APPLIED,
            uploaded_by=people[FINANCE_STAFF],
        ).pk,
    }
    return {"people": people, "devices": devices, "customer": customer, "url_kwargs": url_kwargs}


def customer_with_password():
    from tests.factories import STAFF_PASSWORD, CustomerFactory

    customer = CustomerFactory(email="customer-with-password@example.com")
    customer.set_password(STAFF_PASSWORD)
    customer.save()
    return customer


def client_for(visitor: str, world: dict) -> Client:
    client = Client()
    if visitor == ANONYMOUS:
        return client
    client.force_login(world["people"][visitor])
    if visitor == ADMIN_2FA:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = world["devices"][visitor].persistent_id
        session.save()
    return client


def answer_matches(response, expected) -> bool:
    if isinstance(expected, Redirect):
        return response.status_code == 302 and response["Location"].startswith(expected.to)
    return response.status_code == expected


def answer_text(response) -> str:
    if response.status_code in (301, 302):
        return f"302→{response['Location']}"
    return str(response.status_code)


def probe_cases():
    for key, probes in MATRIX.items():
        for probe in probes:
            yield pytest.param(key, probe, id=f"{key} {probe.label()}")


@pytest.mark.parametrize(("key", "probe"), list(probe_cases()))
def test_each_visitor_gets_what_the_matrix_says(key, probe, world):
    routes = {k: route for k, route, _ in url_patterns()}
    if key not in routes:
        pytest.fail(f"{key} is in MATRIX but not in the URLs")
    names = re.findall(r"<(?:\w+:)?(\w+)>", routes[key])
    url = "/" if key == "/" else reverse(key, kwargs={name: world["url_kwargs"][name] for name in names})
    headers = {"HX-Request": "true", "HX-Target": probe.htmx_target} if probe.htmx_target else {}

    mismatches = []
    for visitor in VISITORS:
        client = client_for(visitor, world)
        world["customer"].refresh_from_db()
        credits = world["customer"].credits
        data = {
            name: str(value).format(customer_credits=credits, customer_credits_plus_one=credits + 1)
            for name, value in probe.data.items()
        }
        with override_settings(STATSTAK_REQUIRE_2FA=visitor in (ADMIN_2FA, PASSWORD_ONLY)):
            if probe.method == "GET":
                response = client.get(url, headers=headers)
            else:
                response = client.post(url, data, headers=headers)
        expected = probe.expect[visitor]
        if not answer_matches(response, expected):
            mismatches.append(f"{visitor}: expected {expected!r}, got {answer_text(response)}")
    assert mismatches == [], f"{probe.method} {url}"
