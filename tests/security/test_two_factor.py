"""Two-factor authentication: enrolment, the verify step, recovery codes, and what a session that
passed only the password can reach (nothing of the portal; the matrix checks every URL too)."""

import io
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.roles import FINANCE
from accounts.two_factor import qr_code_svg
from audit.models import AuditEvent
from tests.factories import PaymentFactory
from tests.people import password_login, staff_with_role, totp_code, totp_device_confirmed

pytestmark = pytest.mark.django_db

SETUP = "/account/two-factor/setup/"
VERIFY = "/account/two-factor/verify/"


@pytest.fixture
def fran(db):
    return staff_with_role(FINANCE, email="fran@statstak.test", first_name="Fran", last_name="Finance")


def secret_on_page(response) -> str:
    return re.search(r'id="two-factor-secret"[^>]*>([A-Z2-7 ]+)</code>', response.content.decode()).group(1)


def recovery_codes_on_page(response) -> list[str]:
    codes = re.findall(r"<li><code>([a-z2-7]{4}) ([a-z2-7]{4})</code></li>", response.content.decode())
    return [a + b for a, b in codes]


def enrol(client: Client) -> tuple[str, list[str]]:
    """Go through the setup page as a person would: read the key, type the app's code. (key, codes)"""
    page = client.get(SETUP)
    secret = secret_on_page(page)
    done = client.post(SETUP, {"code": totp_code(secret)})
    assert done.status_code == 200, done.content.decode()
    return secret, recovery_codes_on_page(done)


# Turned off (make run's demo, the tests by default): nothing is asked.


def test_with_2fa_off_a_password_is_enough(client, fran):
    assert password_login(client, fran.email).status_code == 302
    assert client.get(reverse("user_list")).status_code == 200


# Enrolment.


def test_the_first_login_leads_to_setup_and_the_app_code_turns_2fa_on(client, fran, require_2fa):
    response = password_login(client, fran.email)
    assert response.url == reverse("user_list")
    response = client.get(response.url)
    assert response.status_code == 302 and response.url == f"{VERIFY}?next=%2Fusers%2F"
    response = client.get(response.url)
    assert response.status_code == 302 and response.url == f"{SETUP}?next=%2Fusers%2F"

    page = client.get(response.url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and 'class="qr-code"' in html
    secret = secret_on_page(page)
    device = TOTPDevice.objects.get(user=fran)
    assert not device.confirmed
    assert secret.replace(" ", "") in device.config_url  # the key typed in is the one in the QR code

    done = client.post(SETUP, {"code": totp_code(secret), "next": "/users/"})

    assert done.status_code == 200
    codes = recovery_codes_on_page(done)
    assert len(codes) == len(set(codes)) == 10
    assert "They are shown only now" in done.content.decode()
    assert 'href="/users/"' in done.content.decode()
    device.refresh_from_db()
    assert device.confirmed
    assert sorted(StaticToken.objects.filter(device__user=fran).values_list("token", flat=True)) == sorted(codes)
    assert client.get(reverse("user_list")).status_code == 200  # verified by the enrolment itself
    assert AuditEvent.objects.filter(action="two_factor_enrolled", actor=fran).count() == 1


def test_reloading_setup_keeps_the_same_key(client, fran):
    client.force_login(fran)
    assert secret_on_page(client.get(SETUP)) == secret_on_page(client.get(SETUP))
    assert TOTPDevice.objects.filter(user=fran).count() == 1


def test_a_wrong_code_does_not_turn_2fa_on(client, fran):
    client.force_login(fran)
    client.get(SETUP)

    response = client.post(SETUP, {"code": "000000"})

    assert response.status_code == 422
    assert "That code is not right" in response.content.decode()
    assert not TOTPDevice.objects.get(user=fran).confirmed
    assert not StaticDevice.objects.filter(user=fran).exists()
    assert AuditEvent.objects.filter(action="two_factor_failed", actor=fran, after__step="enrolment").exists()


def test_the_qr_code_has_no_style_attribute_for_the_csp_to_block():
    svg = qr_code_svg("otpauth://totp/StatStak%20Labs:fran%40statstak.test?secret=JBSWY3DPEHPK3PXP")
    assert svg.startswith('<svg class="qr-code" role="img"')
    assert "style" not in svg
    assert 'fill="#000000"' in svg  # drawn with presentation attributes instead


def test_a_password_only_session_of_an_enrolled_member_cannot_set_up_another_app(client, fran, require_2fa):
    original = totp_device_confirmed(fran)
    password_login(client, fran.email)

    assert client.get(SETUP).url.startswith(VERIFY)
    assert client.post(SETUP, {"code": "123456"}).url.startswith(VERIFY)
    assert list(TOTPDevice.objects.filter(user=fran)) == [original]


# The verify step.


def test_the_app_code_after_the_password_opens_the_portal(client, fran, require_2fa):
    device = totp_device_confirmed(fran)
    password_login(client, fran.email)
    key_before = client.session.session_key

    response = client.post(VERIFY, {"code": totp_code(device), "next": "/users/"})

    assert response.status_code == 302 and response.url == "/users/"
    assert client.get(reverse("user_list")).status_code == 200
    assert client.session.session_key != key_before  # a new session key for the new privilege


def test_an_app_code_works_once(fran, require_2fa):
    device = totp_device_confirmed(fran)
    code = totp_code(device)
    first, second = Client(), Client()
    password_login(first, fran.email)
    password_login(second, fran.email)

    assert first.post(VERIFY, {"code": code}).status_code == 302
    assert second.post(VERIFY, {"code": code}).status_code == 422  # a code seen over someone's shoulder


def test_a_wrong_code_is_refused_and_audited(client, fran, require_2fa):
    totp_device_confirmed(fran)
    password_login(client, fran.email)

    response = client.post(VERIFY, {"code": "000000"})

    assert response.status_code == 422
    assert "That code is not right" in response.content.decode()
    assert client.get(reverse("user_list")).status_code == 302
    assert AuditEvent.objects.filter(action="two_factor_failed", actor=fran, after__step="verification").exists()


def test_wrong_codes_in_a_row_make_the_app_wait(client, fran, require_2fa):
    device = totp_device_confirmed(fran)
    password_login(client, fran.email)
    client.post(VERIFY, {"code": "000000"})

    # Straight after a wrong code, even the right one waits: guessing 10^6 codes takes forever.
    response = client.post(VERIFY, {"code": totp_code(device)})

    assert response.status_code == 422
    assert "Too many wrong codes in a row: wait 1 seconds" in response.content.decode()


def test_the_next_address_must_be_this_site(client, fran, require_2fa):
    device = totp_device_confirmed(fran)
    password_login(client, fran.email)

    response = client.post(VERIFY, {"code": totp_code(device), "next": "https://evil.example/phish"})

    assert response.url == "/users/"


def test_without_an_app_the_verify_step_leads_to_setup(client, fran, require_2fa):
    password_login(client, fran.email)
    assert client.get(VERIFY + "?next=/users/").url == SETUP + "?next=%2Fusers%2F"


# Recovery codes.


def test_a_recovery_code_opens_the_portal_once(fran, require_2fa):
    first = Client()
    password_login(first, fran.email)
    _, codes = enrol(first)

    second, third = Client(), Client()
    password_login(second, fran.email)
    # As printed ("abcd efgh"), in capitals, with a dash: all the same code.
    shown = f"{codes[0][:4].upper()}-{codes[0][4:].upper()}"
    response = second.post(VERIFY, {"code": shown, "next": "/users/"})
    assert response.status_code == 200
    assert "You used a recovery code; 9 of 10 are left" in response.content.decode()
    assert 'href="/users/"' in response.content.decode()
    assert second.get(reverse("user_list")).status_code == 200

    password_login(third, fran.email)
    refused = third.post(VERIFY, {"code": codes[0]})
    assert refused.status_code == 422
    assert third.get(reverse("user_list")).status_code == 302
    assert StaticToken.objects.filter(device__user=fran).count() == 9
    event = AuditEvent.objects.get(action="recovery_code_used", actor=fran)
    assert event.after == {"codes_left": 9}


def test_a_wrong_recovery_code_does_not_make_the_app_wait(client, fran, require_2fa):
    device = totp_device_confirmed(fran)
    StaticDevice.objects.create(user=fran, name="Recovery codes").token_set.create(token="abcdefgh")
    password_login(client, fran.email)

    assert client.post(VERIFY, {"code": "zzzzzzzz"}).status_code == 422
    assert client.post(VERIFY, {"code": totp_code(device)}).status_code == 302


# A session that passed only the password.


def test_a_password_only_session_is_sent_to_the_verify_step_from_any_page(client, fran, require_2fa):
    totp_device_confirmed(fran)
    password_login(client, fran.email)
    customer = PaymentFactory().user

    response = client.get(reverse("user_payments", args=[customer.pk]) + "?before=5")

    assert response.status_code == 302
    assert response.url == VERIFY + "?next=%2Fusers%2F" + str(customer.pk) + "%2Fpayments%2F%3Fbefore%3D5"


def test_a_password_only_session_gets_403_for_partials_with_a_redirect_for_htmx(client, fran, require_2fa):
    totp_device_confirmed(fran)
    password_login(client, fran.email)

    response = client.get(reverse("user_list"), headers={"HX-Request": "true", "HX-Target": "user-results"})

    assert response.status_code == 403
    assert response["HX-Redirect"] == VERIFY
    assert "<table" not in response.content.decode()


def test_a_password_only_session_cannot_write(client, fran, require_2fa):
    totp_device_confirmed(fran)
    customer = PaymentFactory().user
    password_login(client, fran.email)

    response = client.post(reverse("credits_edit", args=[customer.pk]), {"credits": "50", "expected_balance": "0"})

    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.credits == 0


def test_a_password_only_session_can_log_out(client, fran, require_2fa):
    totp_device_confirmed(fran)
    password_login(client, fran.email)

    assert client.post(reverse("logout")).url == reverse("login")
    assert "_auth_user_id" not in client.session


def test_the_verify_page_shows_no_portal_navigation(client, fran, require_2fa):
    totp_device_confirmed(fran)
    password_login(client, fran.email)

    html = client.get(VERIFY).content.decode()

    assert 'aria-label="Main"' not in html
    assert "Log out" in html


# A lost phone.


def test_after_a_reset_the_next_login_sets_up_a_new_app(client, fran, require_2fa):
    totp_device_confirmed(fran)
    StaticDevice.objects.create(user=fran, name="Recovery codes").token_set.create(token="abcdefgh")

    call_command("two_factor_reset", "Fran@StatStak.test", stdout=io.StringIO())

    assert not TOTPDevice.objects.filter(user=fran).exists()
    assert not StaticToken.objects.filter(device__user=fran).exists()
    assert AuditEvent.objects.filter(action="two_factor_reset", target_user=fran, actor_label="Command line").exists()
    password_login(client, fran.email)
    assert client.get(reverse("user_list")).url.startswith(VERIFY)
    assert client.get(VERIFY).url.startswith(SETUP)
