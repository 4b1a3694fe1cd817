"""Whatever people type comes back as text, never as markup: in whole pages and in HTMX partials.

Names, emails, notes, payment descriptions, text messages and search terms carry a script tag,
an attribute breakout with an event handler, and template syntax. Each page and partial that
shows them must show them escaped (and show them: not silently drop them), and the template
syntax must be printed as typed, never evaluated.
"""

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.roles import FINANCE
from notifications.models import SmsMessage
from payments.services import credits_adjust
from refunds.models import Refund
from tests.factories import CustomerFactory, PaymentFactory, SmsMessageFactory
from tests.people import staff_with_role

pytestmark = pytest.mark.django_db

SCRIPT = "<script>window.__xss=1</script>"
BREAKOUT = '"><img src=x onerror="window.__xss=2">'
TEMPLATE = "{{ 7|add:42 }}{% now 'Y' %}"
RAW = ["<script>window.__xss", "<img src=x", 'onerror="window']
ESCAPED_SCRIPT = "&lt;script&gt;window.__xss=1&lt;/script&gt;"
ESCAPED_BREAKOUT = "&quot;&gt;&lt;img src=x onerror=&quot;window.__xss=2&quot;&gt;"
TEMPLATE_AS_TYPED = "{{ 7|add:42 }}{% now &#x27;Y&#x27; %}"


def assert_escaped(response, *, shows: list[str]) -> str:
    html = response.content.decode()
    for raw in RAW:
        assert raw not in html, f"{raw!r} reached the page unescaped"
    for text in shows:
        assert text in html, f"{text!r} is not on the page"
    return html


@pytest.fixture
def staff(db) -> User:
    return staff_with_role(FINANCE, first_name="Fran", last_name="Finance")


@pytest.fixture
def victim(db) -> User:
    """A customer whose every field someone filled in with markup."""
    customer = CustomerFactory(
        first_name=SCRIPT, last_name=BREAKOUT + TEMPLATE, email='x"><img src=x onerror="window.__xss=3">@example.com'
    )
    return customer


@pytest.fixture
def payment(victim):
    return PaymentFactory(user=victim, description=SCRIPT + BREAKOUT + TEMPLATE)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_a_search_term_comes_back_escaped_in_the_page_and_the_partial(staff_client, victim):
    url = reverse("user_list") + "?q=" + SCRIPT
    assert_escaped(staff_client.get(url), shows=[ESCAPED_SCRIPT])
    partial = staff_client.get(url, headers={"HX-Request": "true", "HX-Target": "user-results"})
    assert_escaped(partial, shows=[ESCAPED_SCRIPT])
    assert "<html" not in partial.content.decode()


def test_a_search_with_no_match_echoes_the_term_escaped(staff_client):
    url = reverse("user_list") + "?q=" + BREAKOUT
    assert_escaped(staff_client.get(url, headers={"HX-Request": "true", "HX-Target": "user-results"}), shows=[])


def test_names_and_emails_in_the_users_list_are_escaped(staff_client, victim):
    html = assert_escaped(staff_client.get(reverse("user_list")), shows=[ESCAPED_SCRIPT, ESCAPED_BREAKOUT])
    assert "{{ 7|add:42 }}" in html


def test_the_profile_and_each_tab_escape_the_customer(staff_client, victim, payment):
    credits_adjust(user=victim, new_balance=5, expected_balance=0, actor=staff_client_user(staff_client), note=SCRIPT)
    SmsMessageFactory(user=victim, body=BREAKOUT + TEMPLATE, status=SmsMessage.Status.FAILED, last_error=SCRIPT)
    hx = {"HX-Request": "true"}
    for name in ["user_detail", "user_payments", "user_activity"]:
        url = reverse(name, args=[victim.pk])
        assert_escaped(staff_client.get(url), shows=[ESCAPED_SCRIPT])
        assert_escaped(staff_client.get(url, headers=hx | {"HX-Target": "profile-tabs"}), shows=[])
    regions = {  # each region alone, and what it shows of the victim's text (escaped)
        "payment_info": ("payment-info", []),
        "past_payments": ("past-payments", [ESCAPED_SCRIPT]),  # the payment's description
        "credit_history_recent": ("credit-history-recent", [ESCAPED_SCRIPT]),  # the ledger note
        "credit_history": ("credit-history", [ESCAPED_SCRIPT]),
    }
    for name, (target, shows) in regions.items():
        region = staff_client.get(reverse(name, args=[victim.pk]), headers=hx | {"HX-Target": target})
        assert_escaped(region, shows=shows)
    activity = staff_client.get(reverse("user_activity", args=[victim.pk])).content.decode()
    assert TEMPLATE_AS_TYPED in activity  # the text message, printed as typed


def staff_client_user(client) -> User:
    return User.objects.get(pk=client.session["_auth_user_id"])


def test_the_credits_editor_error_escapes_what_was_typed(staff_client, victim):
    response = staff_client.post(
        reverse("credits_edit", args=[victim.pk]),
        {"credits": SCRIPT, "expected_balance": "0", "note": BREAKOUT},
        headers={"HX-Request": "true", "HX-Target": "payment-info"},
    )
    assert response.status_code == 422
    assert_escaped(response, shows=["Enter a whole number of credits", "&lt;script&gt;", "&quot;&gt;&lt;img"])


def test_the_refund_modal_and_its_errors_escape_what_was_typed(staff_client, payment):
    url = reverse("refund_create", args=[payment.user.pk, payment.pk])
    hx = {"HX-Request": "true"}
    assert_escaped(staff_client.get(url, headers=hx | {"HX-Target": "modal"}), shows=[ESCAPED_SCRIPT])

    refused = staff_client.post(
        url,
        {"type": "partial", "amount": SCRIPT, "reason": "other", "note": BREAKOUT, "idempotency_key": "k1"},
        headers=hx | {"HX-Target": "refund-panel"},
    )
    assert refused.status_code == 422
    assert_escaped(refused, shows=["&lt;script&gt;", "&quot;&gt;&lt;img"])


@pytest.mark.django_db(transaction=True)  # the refund service locks outside any transaction
def test_the_refund_result_and_list_escape_the_note(staff_client, payment):
    url = reverse("refund_create", args=[payment.user.pk, payment.pk])
    data = {
        "type": "partial",
        "amount": "5.00",
        "reason": "other",
        "note": SCRIPT + BREAKOUT + TEMPLATE,
        "credits_to_remove": "0",
        "idempotency_key": "0123456789abcdef0123456789abcdef",
        "expected_reserved": "0",
    }
    result = staff_client.post(url, data, headers={"HX-Request": "true", "HX-Target": "refund-panel"})
    assert result.status_code == 200
    assert Refund.objects.get().note == SCRIPT + BREAKOUT + TEMPLATE
    assert_escaped(result, shows=["Success!"])
    assert_escaped(staff_client.post(url, data), shows=["Success!"])  # the same refund again, as a page

    refunds = reverse("refund_list", args=[payment.user.pk, payment.pk])
    assert_escaped(staff_client.get(refunds), shows=[ESCAPED_SCRIPT, ESCAPED_BREAKOUT])
    assert_escaped(staff_client.get(refunds, headers={"HX-Request": "true"}), shows=[ESCAPED_SCRIPT])
