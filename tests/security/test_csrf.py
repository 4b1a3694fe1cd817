"""Every write needs the CSRF token; only the gateways' webhooks do without (they are signed instead).

`Client(enforce_csrf_checks=True)` is a browser on another site: it has the session cookie but
not the token. Each write is refused without the token, changes nothing, and is accepted with it
(the form field for plain forms, the `X-CSRFToken` header that htmx sends from `<body hx-headers>`).
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.roles import ADMINISTRATOR, FINANCE
from payments.models import CreditBatch, LedgerEntry
from refunds.models import Refund
from tests.factories import STAFF_PASSWORD, PaymentFactory
from tests.people import staff_with_role, totp_code, totp_device_confirmed
from tests.security.url_matrix import MATRIX, url_patterns

pytestmark = pytest.mark.django_db

WEBHOOKS = {"stripe_webhook", "twilio_sms_status"}
CSRF_FAILURE = "CSRF verification failed"


def csrf_client(user: User | None = None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def csrf_token(client: Client, page: str = "") -> str:
    """The token as a page gives it to the browser: the login page for a visitor, Users for staff."""
    client.get(page or (reverse("user_list") if "_auth_user_id" in client.session else reverse("login")))
    return client.cookies["csrftoken"].value


def refused_for_csrf(response) -> bool:
    return response.status_code == 403 and CSRF_FAILURE in response.content.decode()


def test_only_the_webhooks_are_csrf_exempt():
    exempt = {key for key, _, pattern in url_patterns() if getattr(pattern.callback, "csrf_exempt", False)}
    assert exempt == WEBHOOKS


def test_the_matrix_names_every_write():
    """The writes tested below are the matrix's POSTs that are not webhooks: no write is skipped."""
    posts = {key for key, probes in MATRIX.items() if any(probe.method == "POST" for probe in probes)}
    assert posts - WEBHOOKS == set(WRITES)


def test_every_url_but_the_webhooks_refuses_a_post_without_the_token():
    staff = staff_with_role(ADMINISTRATOR)
    payment = PaymentFactory()
    kwargs = {
        "pk": payment.user.pk,
        "payment_pk": payment.pk,
        "message_id": 1,
        "refund_pk": 1,
        "change_pk": 1,
        "batch_pk": 1,
    }
    for key, route, _ in url_patterns():
        names = [name for name in kwargs if f"<int:{name}>" in route]
        url = "/" if key == "/" else reverse(key, kwargs={name: kwargs[name] for name in names})
        for who, client in (("anonymous", csrf_client()), ("staff", csrf_client(staff))):
            response = client.post(url, {})
            if key in WEBHOOKS:
                assert not refused_for_csrf(response), (who, url)
            else:
                assert refused_for_csrf(response), (who, url, response.status_code)


# Each write: refused without the token and nothing changes; accepted with it.


def test_login_needs_the_token():
    staff = staff_with_role(FINANCE, email="fran@statstak.test")
    client = csrf_client()
    credentials = {"username": staff.email, "password": STAFF_PASSWORD}

    assert refused_for_csrf(client.post(reverse("login"), credentials))
    assert "_auth_user_id" not in client.session

    response = client.post(reverse("login"), credentials | {"csrfmiddlewaretoken": csrf_token(client)})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == staff.pk


def test_logout_needs_the_token():
    client = csrf_client(staff_with_role(FINANCE))
    token = csrf_token(client)

    assert refused_for_csrf(client.post(reverse("logout")))
    assert "_auth_user_id" in client.session

    response = client.post(reverse("logout"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_saving_credits_needs_the_token():
    staff = staff_with_role(FINANCE)
    customer = PaymentFactory().user
    client = csrf_client(staff)
    url = reverse("credits_edit", args=[customer.pk])
    data = {"credits": "40", "expected_balance": "0", "note": ""}
    hx = {"HX-Request": "true", "HX-Target": "payment-info"}

    assert refused_for_csrf(client.post(url, data, headers=hx))
    customer.refresh_from_db()
    assert customer.credits == 0
    assert not LedgerEntry.objects.filter(user=customer).exists()

    response = client.post(url, data, headers=hx | {"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.credits == 40


@pytest.mark.django_db(transaction=True)  # the refund service locks outside any transaction
def test_executing_a_refund_needs_the_token():
    staff = staff_with_role(FINANCE)
    payment = PaymentFactory()
    client = csrf_client(staff)
    url = reverse("refund_create", args=[payment.user.pk, payment.pk])
    data = {
        "type": "partial",
        "amount": "10.00",
        "reason": "requested_by_customer",
        "note": "",
        "credits_to_remove": "0",
        "idempotency_key": "fedcba9876543210fedcba9876543210",
        "expected_reserved": "0",
    }
    hx = {"HX-Request": "true", "HX-Target": "refund-panel"}

    assert refused_for_csrf(client.post(url, data, headers=hx))
    assert not Refund.objects.exists()

    response = client.post(url, data, headers=hx | {"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 200
    assert "Success!" in response.content.decode()
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED


@pytest.mark.parametrize("key", ["refund_approve", "refund_reject"])
def test_deciding_on_a_refund_needs_the_token(key):
    staff = staff_with_role(FINANCE)
    client = csrf_client(staff)
    url = reverse(key, args=[987654])
    hx = {"HX-Request": "true", "HX-Target": "approval-row"}

    assert refused_for_csrf(client.post(url, {"reason": "No."}, headers=hx))
    # With the token it reaches the view, which finds no such refund.
    response = client.post(url, {"reason": "No."}, headers=hx | {"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 404


@pytest.mark.parametrize("key", ["credit_change_approve", "credit_change_reject"])
def test_deciding_on_a_credit_change_needs_the_token(key):
    staff = staff_with_role(FINANCE)
    client = csrf_client(staff)
    url = reverse(key, args=[987654])
    hx = {"HX-Request": "true", "HX-Target": "credit-change-row"}

    assert refused_for_csrf(client.post(url, {"reason": "No."}, headers=hx))
    # With the token it reaches the view, which finds no such credit change.
    response = client.post(url, {"reason": "No."}, headers=hx | {"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 404


def test_changing_a_staff_members_role_needs_the_token():
    admin = staff_with_role(ADMINISTRATOR)
    member = staff_with_role(None, email="new.hire@statstak.test")
    client = csrf_client(admin)
    data = {"member": str(member.pk), "role": FINANCE, "is_active": "on"}

    assert refused_for_csrf(client.post(reverse("staff_list"), data))
    assert not member.groups.exists()

    response = client.post(reverse("staff_list"), data | {"csrfmiddlewaretoken": csrf_token(client)})
    assert response.status_code == 200
    assert list(member.groups.values_list("name", flat=True)) == [FINANCE]


def test_adding_a_note_needs_the_token():
    from accounts.models import CustomerNote

    staff = staff_with_role(FINANCE)
    customer = PaymentFactory().user
    client = csrf_client(staff)
    url = reverse("customer_note_create", args=[customer.pk])
    hx = {"HX-Request": "true", "HX-Target": "customer-notes"}

    assert refused_for_csrf(client.post(url, {"text": "Hello."}, headers=hx))
    assert not CustomerNote.objects.exists()

    response = client.post(url, {"text": "Hello."}, headers=hx | {"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 200
    assert CustomerNote.objects.get().text == "Hello."


def test_erasing_a_customer_needs_the_token():
    admin = staff_with_role(ADMINISTRATOR)
    customer = PaymentFactory().user
    email = customer.email
    client = csrf_client(admin)
    url = reverse("customer_erase", args=[customer.pk])

    assert refused_for_csrf(client.post(url, {"confirm_email": email}))
    customer.refresh_from_db()
    assert customer.email == email

    response = client.post(url, {"confirm_email": email, "csrfmiddlewaretoken": csrf_token(client)})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.email != email


def test_setting_up_two_factor_needs_the_token():
    staff = staff_with_role(FINANCE)
    client = csrf_client(staff)
    token = csrf_token(client)
    assert client.get(reverse("two_factor_setup")).status_code == 200
    device = TOTPDevice.objects.get(user=staff)

    assert refused_for_csrf(client.post(reverse("two_factor_setup"), {"code": totp_code(device)}))
    device.refresh_from_db()
    assert not device.confirmed

    response = client.post(reverse("two_factor_setup"), {"code": totp_code(device), "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_verifying_the_second_factor_needs_the_token(settings):
    settings.STATSTAK_REQUIRE_2FA = True
    staff = staff_with_role(FINANCE)
    device = totp_device_confirmed(staff)
    client = csrf_client(staff)
    token = csrf_token(client, page=reverse("two_factor_verify"))

    assert refused_for_csrf(client.post(reverse("two_factor_verify"), {"code": totp_code(device)}))
    assert client.get(reverse("user_list")).status_code == 302  # still password-only

    response = client.post(reverse("two_factor_verify"), {"code": totp_code(device), "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert client.get(reverse("user_list")).status_code == 200


def test_uploading_and_applying_bulk_credits_need_the_token():
    client = csrf_client(staff_with_role(FINANCE))
    upload = SimpleUploadedFile("credits.csv", b"customer,credits_delta,note\n1,5,x\n", content_type="text/csv")

    assert refused_for_csrf(client.post(reverse("credit_batches"), {"file": upload}))
    assert not CreditBatch.objects.exists()
    upload.seek(0)
    response = client.post(reverse("credit_batches"), {"file": upload, "csrfmiddlewaretoken": csrf_token(client)})
    assert response.status_code == 302
    batch = CreditBatch.objects.get()

    url = reverse("credit_batch_apply", args=[batch.pk])
    assert refused_for_csrf(client.post(url))
    batch.refresh_from_db()
    assert batch.status == CreditBatch.Status.CHECKED
    # With the token it reaches the view (which queues the batch).
    assert client.post(url, {"csrfmiddlewaretoken": csrf_token(client)}).status_code == 302
    batch.refresh_from_db()
    assert batch.status == CreditBatch.Status.QUEUED


WRITES = [
    "login",
    "logout",
    "credits_edit",
    "refund_create",
    "refund_approve",
    "refund_reject",
    "credit_change_approve",
    "credit_change_reject",
    "two_factor_setup",
    "two_factor_verify",
    "staff_list",
    "credit_batches",
    "credit_batch_apply",
    "customer_note_create",
    "customer_erase",
]
