"""Headers are stored with every audit event: whatever a client sends in them (NUL, control
characters, a megabyte, a forged address) is cleaned, never a 500, and never a way round the
lockout or the audit trail."""

import pytest
from axes.models import AccessAttempt
from django.test import Client

from accounts.audit import AccountAction
from accounts.roles import FINANCE
from audit.models import AuditEvent
from core.text import text_clean
from tests.factories import STAFF_PASSWORD
from tests.people import password_login, staff_with_role

pytestmark = pytest.mark.django_db

HOSTILE_USER_AGENTS = [
    "Mozilla/5.0\x00",
    "\x00\x01\x02\x1b[31m\x7f\x9b",
    "line one\r\nSet-Cookie: x=1",
    '=HYPERLINK("https://evil.example")' + "A" * 5000,
]


@pytest.fixture
def fran(db):
    return staff_with_role(FINANCE, email="fran@statstak.test")


@pytest.mark.parametrize("user_agent", HOSTILE_USER_AGENTS)
def test_a_failed_login_with_a_hostile_user_agent_is_refused_and_audited(client, fran, user_agent):
    response = password_login(client, fran.email, "not the password", HTTP_USER_AGENT=user_agent)
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=AccountAction.LOGIN_FAILED)
    assert event.user_agent == text_clean(user_agent, max_length=300)
    assert "\x00" not in event.user_agent and len(event.user_agent) <= 300


def test_hostile_user_agents_still_lock_the_login_out(fran):
    client = Client()
    for user_agent in [*HOSTILE_USER_AGENTS, "\x00"]:
        password_login(client, fran.email, "not the password", HTTP_USER_AGENT=user_agent)
    response = password_login(client, fran.email, STAFF_PASSWORD, HTTP_USER_AGENT="Mozilla/5.0\x00")
    assert response.status_code == 429
    assert sum(AccessAttempt.objects.values_list("failures_since_start", flat=True)) >= 5
    assert AuditEvent.objects.filter(action=AccountAction.LOGIN_FAILED).count() >= 5
    assert AuditEvent.objects.filter(action=AccountAction.LOGIN_LOCKED_OUT).exists()


def test_a_successful_login_with_a_nul_in_the_user_agent_is_audited(client, fran):
    response = password_login(client, fran.email, HTTP_USER_AGENT="Mozilla/5.0\x00 (X11)")
    assert response.status_code == 302
    assert AuditEvent.objects.get(action=AccountAction.LOGIN_SUCCEEDED).user_agent == "Mozilla/5.0 (X11)"


@pytest.mark.parametrize("forwarded", ["not-an-address", "\x00", "999.1.1.1", "1.2.3.4\x00"])
def test_a_forwarded_address_that_is_not_one_is_left_out(client, fran, settings, forwarded):
    settings.TRUST_X_FORWARDED_FOR = True
    response = password_login(client, fran.email, "not the password", HTTP_X_FORWARDED_FOR=forwarded)
    assert response.status_code == 200
    assert AuditEvent.objects.get(action=AccountAction.LOGIN_FAILED).ip_address == "127.0.0.1"


@pytest.mark.parametrize("request_id", ["abc\x00defghij", "-" * 65, "ok-but-\nnewline"])
def test_an_unusable_request_id_is_replaced(client, request_id):
    response = client.get("/login/", HTTP_X_REQUEST_ID=request_id)
    assert response.status_code == 200
    assert response["X-Request-ID"] != request_id and len(response["X-Request-ID"]) == 32
