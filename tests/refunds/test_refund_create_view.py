"""GET/POST /users/<pk>/payments/<payment_pk>/refund/: the refund modal."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from payments.models import LedgerEntry
from refunds.models import Refund
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true", "HX-Target": "modal"}
PANEL = {"HX-Request": "true", "HX-Target": "refund-panel"}


@pytest.fixture
def finance_client(client, finance):
    client.force_login(finance)
    return client


def url(payment, user_pk=None):
    return reverse("refund_create", args=[user_pk or payment.user_id, payment.pk])


def form_data(client, payment, **overrides) -> dict:
    """What the modal's form would submit, starting from the values the GET put in it."""
    html = client.get(url(payment), headers=HTMX).content.decode()
    key = html.split('name="idempotency_key" value="')[1].split('"')[0]
    reserved = html.split('name="expected_reserved" value="')[1].split('"')[0]
    data = {
        "type": "partial",
        "amount": "25.00",
        "reason": "requested_by_customer",
        "note": "",
        "credits_to_remove": "0",
        "notify_customer": "on",
        "idempotency_key": key,
        "expected_reserved": reserved,
    }
    return data | overrides


def test_the_dialog_shows_the_payment_what_remains_and_the_form(finance_client, make_payment):
    payment = make_payment(description="Pro pack — 500 credits")
    response = finance_client.get(url(payment), headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<h2 id="modal-title">Create refund</h2>' in html
    for expected in [
        "Pro pack — 500 credits",
        "$100.00",
        "Refunded so far",
        "Remaining",
        "Full refund",
        "Partial refund",
        "Account credits",
        ">Amount",
        ">Reason",
        ">Note",
        "Execute refund",
        "Also remove purchased credits",
        "Notify the customer by SMS",
    ]:
        assert expected in html, expected
    # Nothing that moves money is chosen for the staff member (tests/refunds/test_refund_dialog.py).
    assert 'name="amount" inputmode="decimal" autocomplete="off"\n                   value=""' in html
    assert "checked" not in html.split("<legend>Type</legend>")[1].split("</fieldset>")[0]
    assert "<html" not in html


def test_each_opened_form_is_a_new_refund_with_its_own_key(finance_client, make_payment):
    payment = make_payment()
    first = form_data(finance_client, payment)
    second = form_data(finance_client, payment)
    assert first["idempotency_key"] != second["idempotency_key"]
    assert len(first["idempotency_key"]) == 32
    assert first["expected_reserved"] == second["expected_reserved"] == "0"


def test_after_a_stale_refusal_submitting_again_goes_through(finance_client, make_payment):
    payment = make_payment()
    stale = form_data(finance_client, payment, amount="10.00")
    finance_client.post(url(payment), form_data(finance_client, payment, amount="40.00"), headers=PANEL)
    refused = finance_client.post(url(payment), stale, headers=PANEL)
    assert refused.status_code == 409
    html = refused.content.decode()
    assert 'value="10.00"' in html  # what was typed is kept
    rebased = html.split('name="expected_reserved" value="')[1].split('"')[0]

    response = finance_client.post(url(payment), stale | {"expected_reserved": rebased}, headers=PANEL)

    assert response.status_code == 200
    assert "Success!" in response.content.decode()
    assert sorted(Refund.objects.values_list("amount", flat=True)) == [1000, 4000]


def test_without_javascript_the_link_opens_a_full_page_form(finance_client, make_payment):
    html = finance_client.get(url(make_payment())).content.decode()
    assert "<html" in html and "Execute refund" in html


def test_a_partial_refund_shows_success_and_signals_the_page(finance_client, make_payment):
    payment = make_payment()
    response = finance_client.post(url(payment), form_data(finance_client, payment), headers=PANEL)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Success!" in html
    assert "$25.00 was refunded to the customer's original payment method." in html
    assert "Partially refunded" in html
    assert "An SMS notification is on its way to the customer." in html
    assert ">Continue</button>" in html
    assert json.loads(response.headers["HX-Trigger"]) == {"refund-executed": {}}
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED


def test_submitting_the_same_form_twice_shows_the_same_refund(finance_client, make_payment):
    payment = make_payment()
    data = form_data(finance_client, payment)
    first = finance_client.post(url(payment), data, headers=PANEL).content.decode()
    second = finance_client.post(url(payment), data, headers=PANEL).content.decode()
    assert "Success!" in first and "Success!" in second
    assert Refund.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="refund").count() == 1


def test_a_declined_refund_says_why_in_plain_words(finance_client, make_payment):
    payment = make_payment(gateway_id="pi_sandbox_decline_view")
    response = finance_client.post(url(payment), form_data(finance_client, payment), headers=PANEL)
    html = response.content.decode()
    assert "The refund did not go through" in html
    assert "The customer&#x27;s bank declined the refund." in html
    assert "Success!" not in html
    assert "HX-Trigger" not in response.headers


def test_a_pending_answer_is_not_called_success(finance_client, make_payment):
    payment = make_payment(gateway_id="pi_sandbox_pending_view")
    html = finance_client.post(url(payment), form_data(finance_client, payment), headers=PANEL).content.decode()
    assert "Refund submitted — waiting for the bank" in html
    assert "Success!" not in html


def test_no_answer_from_the_gateway_says_not_to_refund_again(finance_client, make_payment):
    payment = make_payment(gateway_id="pi_sandbox_timeout_view")
    html = finance_client.post(url(payment), form_data(finance_client, payment), headers=PANEL).content.decode()
    assert "did not answer in time" in html
    assert "Do not refund this payment again." in html


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"amount": "100.01"}, "exceeds the remaining amount: at most $100.00"),
        ({"amount": "0"}, "Enter an amount greater than zero."),
        ({"amount": "-5"}, "Enter an amount greater than zero."),
        ({"amount": "12.505"}, "Use at most 2 decimals."),
        ({"amount": "12,50.0.1"}, "Enter an amount like 12.50."),
        ({"amount": "abc"}, "Enter an amount like 12.50."),
        ({"amount": ""}, "Enter the amount to refund."),
        ({"reason": ""}, "Choose a reason."),
        ({"reason": "bogus"}, "Select a valid choice."),
        ({"type": "bogus"}, "Select a valid choice."),
        ({"reason": "other", "note": ""}, "Say why in the note when the reason is Other."),
        ({"credits_to_remove": "-1"}, "Credits cannot be negative."),
        ({"idempotency_key": "x"}, "close it and open Create refund again"),
    ],
)
def test_bad_input_is_an_inline_error_and_changes_nothing(finance_client, make_payment, overrides, message):
    payment = make_payment()
    response = finance_client.post(url(payment), form_data(finance_client, payment, **overrides), headers=PANEL)
    html = response.content.decode()
    assert response.status_code == 422
    assert message in html.replace("&#x27;", "'")
    assert html.lstrip().startswith('<div id="refund-panel">')
    assert not Refund.objects.exists()


def test_a_stale_form_is_refused_with_the_current_numbers(finance_client, make_payment):
    payment = make_payment()
    stale = form_data(finance_client, payment)
    finance_client.post(url(payment), form_data(finance_client, payment, amount="40.00"), headers=PANEL)
    response = finance_client.post(url(payment), stale, headers=PANEL)
    html = response.content.decode()
    assert response.status_code == 409
    assert "Another refund on this payment was made while you were filling in this form" in html
    assert "$40.00 is refunded or pending now, $60.00 remains" in html
    assert 'name="expected_reserved" value="4000"' in html
    assert Refund.objects.count() == 1


def test_jpy_amounts_have_no_decimals(finance_client, make_payment):
    payment = make_payment(amount=2900, currency="JPY", credits_bought=100)
    bad = finance_client.post(url(payment), form_data(finance_client, payment, amount="5.5"), headers=PANEL)
    assert "JPY amounts have no decimals." in bad.content.decode()
    good = finance_client.post(url(payment), form_data(finance_client, payment, amount="500"), headers=PANEL)
    assert "¥500 was refunded" in good.content.decode()
    assert Refund.objects.get().amount == 500


def test_a_payment_of_another_customer_is_a_404(finance_client, make_payment):
    payment = make_payment()
    stranger = CustomerFactory()
    assert finance_client.get(url(payment, user_pk=stranger.pk), headers=HTMX).status_code == 404
    data = form_data(finance_client, payment)
    response = finance_client.post(url(payment, user_pk=stranger.pk), data, headers=PANEL)
    assert response.status_code == 404
    assert not Refund.objects.exists()


def test_staff_without_the_permission_cannot_see_or_use_it(staff_client, make_payment):
    payment = make_payment()
    page = staff_client.get(reverse("user_payments", args=[payment.user_id])).content.decode()
    assert "Create refund" not in page
    assert 'aria-label="Payment actions"' not in page  # nothing to do with this payment
    assert staff_client.get(url(payment), headers=HTMX).status_code == 403
    response = staff_client.post(url(payment), {"type": "full", "reason": "duplicate"}, headers=PANEL)
    assert response.status_code == 403
    assert not Refund.objects.exists()


def test_it_requires_the_csrf_token(finance, make_payment):
    client = Client(enforce_csrf_checks=True)
    client.force_login(finance)
    payment = make_payment()
    data = form_data(client, payment)
    assert client.post(url(payment), data, headers=PANEL).status_code == 403
    assert not Refund.objects.exists()


def test_anonymous_visitors_go_to_login(client, make_payment):
    payment = make_payment()
    response = client.post(url(payment), {"type": "full"})
    assert response.status_code == 302
    assert not Refund.objects.exists()


def test_the_payments_tab_lists_payments_with_status_and_the_actions_menu(finance_client, make_payment):
    payment = make_payment(description="Pro pack — 500 credits")
    finance_client.post(url(payment), form_data(finance_client, payment), headers=PANEL)
    html = finance_client.get(reverse("user_payments", args=[payment.user_id])).content.decode()
    for expected in [
        "Past payments",
        "Pro pack — 500 credits",
        "$100.00",
        "$25.00",
        "Partially refunded",
        payment.gateway_id,
        'aria-label="Payment actions: Pro pack — 500 credits, ',  # named for its payment
        ">Create refund</a>",
        ">View refunds</a>",
    ]:
        assert expected in html, expected


def test_the_refunds_list_shows_who_refunded(finance_client, make_payment):
    payment = make_payment()
    finance_client.post(url(payment), form_data(finance_client, payment), headers=PANEL)
    html = finance_client.get(reverse("refund_list", args=[payment.user_id, payment.pk]), headers=HTMX).content.decode()
    assert "Fran Finance" in html and "$25.00" in html and "Succeeded" in html
