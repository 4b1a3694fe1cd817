"""Guessing passwords: after 5 failures in a row an (email, address) pair is locked out for 15 minutes.

The lockout is a normal form error on the login page with status 429, in words that are the
same whether the email belongs to an account or not.
"""

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from accounts.roles import FINANCE
from audit.models import AuditEvent
from tests.factories import STAFF_PASSWORD
from tests.people import password_login, staff_with_role

pytestmark = pytest.mark.django_db

WRONG = "Please enter a correct email and password"
LOCKED = "Too many failed attempts to log in"


@pytest.fixture
def fran(db):
    return staff_with_role(FINANCE, email="fran@statstak.test")


def alert_text(response) -> str:
    match = re.search(r'<div class="alert alert-error" role="alert">(.*?)</div>', response.content.decode(), re.S)
    return re.sub(r"<[^>]+>|\s+", " ", match.group(1)).strip() if match else ""


def fail(client: Client, email: str, times: int, **extra) -> list:
    return [password_login(client, email, "not the password", **extra) for _ in range(times)]


def test_four_failures_only_say_the_password_is_wrong(client, fran):
    for response in fail(client, fran.email, 4):
        assert response.status_code == 200
        assert WRONG in alert_text(response)


def test_the_fifth_failure_locks_the_login_out_with_a_429_form_error(client, fran):
    *_, fifth = fail(client, fran.email, 5)

    assert fifth.status_code == 429
    assert LOCKED in alert_text(fifth)
    assert "15 minutes" in alert_text(fifth)
    html = fifth.content.decode()
    assert 'name="password"' in html  # the login page itself, not axes' bare page
    assert "Log in to the admin portal" in html
    assert f'value="{fran.email}"' in html


def test_while_locked_out_even_the_right_password_is_refused(client, fran):
    fail(client, fran.email, 5)

    response = password_login(client, fran.email, STAFF_PASSWORD)

    assert response.status_code == 429
    assert LOCKED in alert_text(response)
    assert "_auth_user_id" not in client.session


def test_the_lockout_reads_the_same_for_an_email_with_no_account(fran):
    known, unknown = Client(), Client()
    *_, known_answer = fail(known, fran.email, 5)
    *_, unknown_answer = fail(unknown, "nobody@statstak.test", 5)

    assert known_answer.status_code == unknown_answer.status_code == 429
    assert alert_text(known_answer) == alert_text(unknown_answer)
    # And so does every failure before it.
    once_more = Client(), Client()
    known_wrong = fail(once_more[0], fran.email, 1)[0]
    unknown_wrong = fail(once_more[1], "nobody@statstak.test", 1)[0]
    assert alert_text(known_wrong) == alert_text(unknown_wrong)


def test_a_successful_login_resets_the_count(client, fran):
    fail(client, fran.email, 4)
    assert password_login(client, fran.email, STAFF_PASSWORD).status_code == 302
    client.post(reverse("logout"))

    for response in fail(client, fran.email, 4):
        assert response.status_code == 200
    assert password_login(client, fran.email, STAFF_PASSWORD).status_code == 302


def test_the_lockout_holds_for_that_email_from_that_address_only(fran):
    staff_with_role(FINANCE, email="sam@statstak.test")
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    fail(attacker, fran.email, 5)

    # Fran, from her own address, still gets in: a stranger cannot lock staff out of the portal.
    assert password_login(Client(REMOTE_ADDR="198.51.100.7"), fran.email, STAFF_PASSWORD).status_code == 302
    # Another colleague, from the attacker's address, is not locked out either.
    assert password_login(Client(REMOTE_ADDR="203.0.113.9"), "sam@statstak.test", STAFF_PASSWORD).status_code == 302
    # Fran from the attacker's address is.
    assert password_login(attacker, fran.email, STAFF_PASSWORD).status_code == 429


def test_changing_the_case_of_the_email_does_not_get_round_the_lockout(client, fran):
    spellings = ["fran@statstak.test", "Fran@statstak.test", "FRAN@STATSTAK.TEST", " fran@statstak.test"]
    for email in [*spellings, "fRaN@statstak.test"]:
        password_login(client, email, "not the password")

    assert password_login(client, "Fran@StatStak.test", STAFF_PASSWORD).status_code == 429


def test_a_forged_x_forwarded_for_does_not_get_round_the_lockout(fran, settings):
    settings.TRUST_X_FORWARDED_FOR = False
    client = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(5):
        password_login(client, fran.email, "not the password", headers={"X-Forwarded-For": f"192.0.2.{n}"})

    response = password_login(client, fran.email, STAFF_PASSWORD, headers={"X-Forwarded-For": "192.0.2.99"})
    assert response.status_code == 429


def test_behind_a_trusted_proxy_the_lockout_follows_the_client_address(fran, settings):
    settings.TRUST_X_FORWARDED_FOR = True
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    fail(proxy, fran.email, 5, headers={"X-Forwarded-For": "203.0.113.9"})

    from_attacker = password_login(proxy, fran.email, STAFF_PASSWORD, headers={"X-Forwarded-For": "203.0.113.9"})
    from_fran = password_login(
        Client(REMOTE_ADDR="10.0.0.2"), fran.email, STAFF_PASSWORD, headers={"X-Forwarded-For": "198.51.100.7"}
    )
    assert from_attacker.status_code == 429
    assert from_fran.status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, fran):
    fail(client, fran.email, 5)
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))

    assert password_login(client, fran.email, STAFF_PASSWORD).status_code == 302


def test_the_lockout_is_in_the_audit_trail_without_the_password(client, fran):
    fail(client, fran.email, 5)

    event = AuditEvent.objects.get(action="login_locked_out")
    assert event.after == {"username": fran.email}
    assert "not the password" not in str(AuditEvent.objects.values_list("before", "after"))


def test_a_lockout_is_a_log_line_without_the_email(client, fran, caplog):
    with caplog.at_level("INFO"):
        fail(client, fran.email, 5)
    assert "Login refused: too many failed attempts" in caplog.text
    assert fran.email not in caplog.text


def test_the_stored_failed_attempt_keeps_no_password_and_no_csrf_token(client, fran):
    client.post(
        reverse("login"),
        {"username": fran.email, "password": "not the password", "csrfmiddlewaretoken": "a-csrf-token-value"},
    )

    stored = AccessAttempt.objects.get().post_data
    assert "not the password" not in stored
    assert "a-csrf-token-value" not in stored
