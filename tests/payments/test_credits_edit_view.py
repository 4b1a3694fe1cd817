"""POST /users/<pk>/credits/: the Credits editor on the Payments tab."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.roles import FINANCE
from payments.models import CreditChangeRequest, LedgerEntry
from payments.services import credits_adjust
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "payment-info"}


@pytest.fixture
def editor(client, credits_staff):
    client.force_login(credits_staff)
    return client


def post(client, customer, htmx=True, **data):
    payload = {"credits": "150", "expected_balance": str(customer.credits), "note": ""} | data
    return client.post(reverse("credits_edit", args=[customer.pk]), payload, headers=HTMX if htmx else {})


def test_an_htmx_save_swaps_the_section_shows_saved_and_signals_the_history(editor, customer, credits_staff):
    response = post(editor, customer, note="Goodwill for the outage")
    html = response.content.decode()
    assert response.status_code == 200
    assert json.loads(response.headers["HX-Trigger"]) == {"credits-changed": {}}
    assert html.lstrip().startswith('<section id="payment-info"')
    assert "Saved. Credits went from 0 to 150." in html
    assert 'name="expected_balance" value="150"' in html
    assert '<dd class="num" id="profile-credits" hx-swap-oob="true">150</dd>' in html
    entry = LedgerEntry.objects.get(user=customer)
    assert (entry.credits_delta, entry.actor, entry.note) == (150, credits_staff, "Goodwill for the outage")
    assert entry.correlation_id == response.headers["X-Request-ID"]


def test_a_plain_form_post_saves_and_redirects_to_the_payments_tab(editor, customer):
    response = post(editor, customer, htmx=False)
    assert response.status_code == 302
    assert response.url == reverse("user_payments", args=[customer.pk])
    page = editor.get(response.url).content.decode()
    assert "Saved: Elijah Herrick now has 150 credits." in page
    assert User.objects.get(pk=customer.pk).credits == 150


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("abc", "Enter a whole number of credits, like 120."),
        ("-5", "Credits cannot be negative."),
        ("1e9", "Enter a whole number of credits, like 120."),
        ("", "Enter the new number of credits."),
        ("12.5", "Enter a whole number of credits, like 120."),
        ("12.0", "Enter a whole number of credits, like 120."),
        ("1000001", "Credits can be at most 1,000,000."),
        ("9" * 10_000, "Enter a whole number of credits, like 120."),
    ],
)
def test_bad_input_is_an_inline_error_that_keeps_what_was_typed_and_writes_nothing(editor, customer, typed, message):
    response = post(editor, customer, credits=typed)
    html = response.content.decode()
    assert response.status_code == 422
    assert message in html
    assert 'aria-invalid="true"' in html
    if len(typed) < 100:
        assert f'value="{typed}"' in html
    assert User.objects.get(pk=customer.pk).credits == 0
    assert not LedgerEntry.objects.exists()


def test_saving_the_same_balance_says_there_is_nothing_to_save(editor, customer):
    response = post(editor, customer, credits="0")
    assert response.status_code == 422
    assert "The balance is already 0 credits; nothing to save." in response.content.decode()
    assert not LedgerEntry.objects.exists()


def test_a_note_over_500_characters_is_refused(editor, customer):
    response = post(editor, customer, note="x" * 501)
    assert response.status_code == 422
    assert "at most 500 characters" in response.content.decode()
    assert not LedgerEntry.objects.exists()


def test_a_stale_page_gets_the_conflict_with_the_current_balance(editor, customer, staff):
    credits_adjust(user=customer, new_balance=80, expected_balance=0, actor=staff)
    response = post(editor, customer, credits="10", expected_balance="0")
    html = response.content.decode()
    assert response.status_code == 409
    assert "Someone else changed these credits while you were editing (Adam Hobson," in html
    assert "The balance is now 80." in html
    assert 'value="10"' in html  # what was typed is kept
    assert 'name="expected_balance" value="80"' in html  # the next save is based on what is shown now
    assert '<dd class="num" id="profile-credits" hx-swap-oob="true">80</dd>' in html
    assert User.objects.get(pk=customer.pk).credits == 80
    assert LedgerEntry.objects.count() == 1


def test_after_a_conflict_saving_again_goes_through(editor, customer, staff):
    credits_adjust(user=customer, new_balance=80, expected_balance=0, actor=staff)
    post(editor, customer, credits="10", expected_balance="0")
    response = post(editor, customer, credits="10", expected_balance="80")
    assert response.status_code == 200
    assert User.objects.get(pk=customer.pk).credits == 10


def test_a_missing_expected_balance_writes_nothing(editor, customer):
    response = editor.post(reverse("credits_edit", args=[customer.pk]), {"credits": "10"}, headers=HTMX)
    assert response.status_code == 422
    assert "reload the page" in response.content.decode()
    assert not LedgerEntry.objects.exists()


def test_staff_without_the_permission_see_the_balance_read_only_and_are_refused(viewer_client, customer):
    page = viewer_client.get(reverse("user_payments", args=[customer.pk])).content.decode()
    assert "You can view credits but not change them." in page
    assert "Save credits" not in page
    response = post(viewer_client, customer)
    assert response.status_code == 403
    assert not LedgerEntry.objects.exists()


def test_staff_with_the_permission_see_the_editor(editor, customer):
    page = editor.get(reverse("user_payments", args=[customer.pk])).content.decode()
    assert 'aria-label="Save credits"' in page
    assert '<label for="id_credits">Credits</label>' in page


def test_it_requires_the_csrf_token(credits_staff, customer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(credits_staff)
    response = post(client, customer)
    assert response.status_code == 403
    assert not LedgerEntry.objects.exists()
    page = client.get(reverse("user_payments", args=[customer.pk]))
    token = page.cookies["csrftoken"].value
    response = client.post(
        reverse("credits_edit", args=[customer.pk]),
        {"credits": "5", "expected_balance": "0"},
        headers=HTMX | {"X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert User.objects.get(pk=customer.pk).credits == 5


def test_it_refuses_get_anonymous_and_customers(client, customer, editor):
    url = reverse("credits_edit", args=[customer.pk])
    assert editor.get(url).status_code == 405
    anonymous = Client()
    assert anonymous.post(url, {"credits": "5", "expected_balance": "0"}).status_code == 302
    assert not LedgerEntry.objects.exists()


def test_an_unknown_user_is_a_404(editor):
    response = editor.post(reverse("credits_edit", args=[987654]), {"credits": "5", "expected_balance": "0"})
    assert response.status_code == 404


def test_without_javascript_an_error_page_still_shows_past_payments(editor, customer):
    from tests.factories import PaymentFactory

    PaymentFactory(user=customer, description="Pro pack — 500 credits")
    response = post(editor, customer, htmx=False, credits="-5")
    html = response.content.decode()
    assert response.status_code == 422
    assert "Credits cannot be negative." in html
    assert "Pro pack — 500 credits" in html
    assert "Recent credit changes" in html


@pytest.mark.parametrize("typed", ["\u09ea0", "\u0661\u0662", "\uff14\uff10", "4\u0660", "12.0", "1e3"])
def test_credits_in_anything_but_ascii_digits_are_an_inline_error(client, credits_staff, customer, typed):
    client.force_login(credits_staff)
    response = client.post(
        reverse("credits_edit", args=[customer.pk]),
        {"credits": typed, "expected_balance": "0"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert "Enter a whole number of credits, like 120." in response.content.decode()
    customer.refresh_from_db()
    assert customer.credits == 0


def test_the_editor_refuses_a_staff_member_their_own_account(client, staff):
    client.force_login(staff)
    response = client.post(
        reverse("credits_edit", args=[staff.pk]),
        {"credits": "100", "expected_balance": "0", "note": ""},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert "This is your own account (same person, email or phone): you cannot change its credits." in (
        response.content.decode()
    )
    assert User.objects.get(pk=staff.pk).credits == 0
    page = client.get(reverse("user_payments", args=[staff.pk])).content.decode()
    assert "another staff member must change its credits" in page
    assert 'id="id_credits"' not in page


def test_a_large_change_is_requested_and_the_editor_says_so(client, customer):
    finance = StaffFactory(roles=[FINANCE])
    client.force_login(finance)
    response = client.post(
        reverse("credits_edit", args=[customer.pk]),
        {"credits": "5000", "expected_balance": "0", "note": "Contract"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "Requested: 0 → 5,000 credits waits for a second person" in response.content.decode()
    assert User.objects.get(pk=customer.pk).credits == 0
    assert CreditChangeRequest.objects.get().new_balance == 5000


def test_support_sees_what_remains_of_the_daily_allowance(staff_client, customer, staff):
    credits_adjust(user=customer, new_balance=300, expected_balance=0, actor=staff)
    page = staff_client.get(reverse("user_payments", args=[customer.pk])).content.decode()
    assert (
        "Your allowance today: a change of at most 500 credits (500 an edit; 700 of 1,000 left on this customer" in page
    )
    assert "1,700 of 2,000 left for you" in page
