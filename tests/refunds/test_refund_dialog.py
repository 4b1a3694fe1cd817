"""The refund dialog prevents mistakes: nothing that moves money is chosen for the staff member,
the type follows the amount, the button says what Execute will do, and the preview shows the
consequences (credits bought, used since, the balance after, the customer's exact text, warnings)
before anything is written."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from payments.models import Dispute, LedgerEntry
from refunds.models import Refund
from tests.factories import CustomerFactory, LedgerEntryFactory, StaffFactory
from tests.helpers import refund_request

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true", "HX-Target": "modal"}
PANEL = {"HX-Request": "true", "HX-Target": "refund-panel"}
PREVIEW = {"HX-Request": "true", "HX-Target": "refund-preview"}


@pytest.fixture
def finance_client(client, finance):
    client.force_login(finance)
    return client


def dialog_url(payment):
    return reverse("refund_create", args=[payment.user_id, payment.pk])


def preview(client, payment, **fields) -> str:
    params = {"expected_reserved": "0", "notify_customer": "on"} | fields
    response = client.get(reverse("refund_preview", args=[payment.user_id, payment.pk]), params, headers=PREVIEW)
    assert response.status_code == 200
    return response.content.decode()


def text(html: str) -> str:
    """The words a person reads: tags out, spaces folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'").strip()


def opened(client, payment) -> dict:
    html = client.get(dialog_url(payment), headers=HTMX).content.decode()
    return {
        "idempotency_key": html.split('name="idempotency_key" value="')[1].split('"')[0],
        "expected_reserved": html.split('name="expected_reserved" value="')[1].split('"')[0],
        "reason": "requested_by_customer",
        "note": "",
        "notify_customer": "on",
    }


# Nothing preselected.


def test_the_dialog_opens_with_no_type_no_amount_and_no_credits_chosen(finance_client, make_payment):
    html = finance_client.get(dialog_url(make_payment()), headers=HTMX).content.decode()
    type_group = html.split("<legend>Type</legend>")[1].split("</fieldset>")[0]
    assert "checked" not in type_group
    assert re.search(r'id="id_amount"[^>]*value=""', html)
    assert re.search(r'id="id_credits_to_remove"[^>]*value=""', html)
    assert "Up to $100.00 remains." in html
    assert ">Execute refund</span>" in html


def test_the_sms_box_is_ticked_and_says_why_when_the_customer_has_a_phone(finance_client, make_payment):
    html = finance_client.get(dialog_url(make_payment()), headers=HTMX).content.decode()
    assert re.search(r'name="notify_customer" aria-describedby="sms-help" checked', html)
    assert "Ticked when the form opens: customers are told of every refund" in html


def test_the_sms_box_is_off_and_explained_when_the_customer_has_no_phone(finance_client, make_payment):
    payment = make_payment(user=CustomerFactory(phone=""))
    html = finance_client.get(dialog_url(payment), headers=HTMX).content.decode()
    assert re.search(r'name="notify_customer" aria-describedby="sms-help" disabled>', html)
    assert "This customer has no phone number, so no SMS can be sent." in html


# The type follows the amount.


def test_less_than_what_remains_is_a_partial_refund_even_with_full_chosen(finance_client, make_payment):
    payment = make_payment()
    data = opened(finance_client, payment) | {"type": "full", "amount": "40.00", "credits_to_remove": "0"}
    response = finance_client.post(dialog_url(payment), data, headers=PANEL)
    assert response.status_code == 200
    refund = Refund.objects.get()
    assert (refund.type, refund.amount) == (Refund.Type.PARTIAL, 4000)


def test_the_whole_remaining_amount_is_a_full_refund_even_with_partial_chosen(finance_client, make_payment):
    payment = make_payment()
    refund_request(payment, actor=StaffFactory(roles=["Finance"], passwordless=True), amount=2500)
    data = opened(finance_client, payment) | {"type": "partial", "amount": "75.00", "credits_to_remove": "0"}
    finance_client.post(dialog_url(payment), data, headers=PANEL)
    refund = Refund.objects.order_by("-id").first()
    assert (refund.type, refund.amount, refund.status) == (Refund.Type.FULL, 7500, Refund.Status.SUCCEEDED)


def test_an_amount_with_no_type_chosen_is_a_card_refund_of_that_amount(finance_client, make_payment):
    payment = make_payment()
    data = opened(finance_client, payment) | {"amount": "12.50"}
    finance_client.post(dialog_url(payment), data, headers=PANEL)
    refund = Refund.objects.get()
    assert (refund.type, refund.amount) == (Refund.Type.PARTIAL, 1250)
    # Credits left empty: the suggestion for $12.50 of a $100.00 payment for 500 credits.
    assert LedgerEntry.objects.get(kind="refund").credits_delta == -62


def test_account_credits_stays_account_credits_whatever_the_amount(finance_client, make_payment):
    payment = make_payment()
    data = opened(finance_client, payment) | {"type": "credits", "amount": "100.00"}
    finance_client.post(dialog_url(payment), data, headers=PANEL)
    refund = Refund.objects.get()
    assert (refund.type, refund.credits_delta) == (Refund.Type.CREDITS, 500)


def test_no_type_and_no_amount_is_an_error_on_the_amount_and_refunds_nothing(finance_client, make_payment):
    payment = make_payment()
    response = finance_client.post(dialog_url(payment), opened(finance_client, payment), headers=PANEL)
    html = response.content.decode()
    assert response.status_code == 422
    assert "Enter the amount to refund (up to $100.00), or choose Full refund." in html
    assert not Refund.objects.exists()


# Errors tied to their fields, summarised at the top.


def test_errors_are_tied_to_amount_reason_and_note_and_summarised(finance_client, make_payment):
    payment = make_payment()
    data = opened(finance_client, payment) | {"amount": "abc", "reason": "", "note": ""}
    response = finance_client.post(dialog_url(payment), data, headers=PANEL)
    html = response.content.decode()
    assert response.status_code == 422
    amount = re.search(r"<input[^>]*id=\"id_amount\"[^>]*>", html).group(0)
    assert 'aria-invalid="true"' in amount
    assert 'aria-describedby="amount-error amount-help approval-help"' in amount
    assert '<p class="field-error" id="amount-error">Enter an amount like 12.50.</p>' in html
    reason = re.search(r"<select[^>]*id=\"id_reason\"[^>]*>", html).group(0)
    assert 'aria-invalid="true"' in reason and 'aria-describedby="reason-error"' in reason
    summary = html.split('id="refund-errors"')[1].split("</div>")[0]
    assert "2 problems stop this refund" in summary
    assert '<a href="#id_amount">Amount: Enter an amount like 12.50.</a>' in summary
    assert '<a href="#id_reason">Reason: Choose a reason.</a>' in summary


def test_a_note_error_is_tied_to_the_note(finance_client, make_payment):
    payment = make_payment()
    data = opened(finance_client, payment) | {"amount": "10.00", "reason": "other", "note": ""}
    html = finance_client.post(dialog_url(payment), data, headers=PANEL).content.decode()
    note = re.search(r"<textarea[^>]*id=\"id_note\"[^>]*>", html).group(0)
    assert 'aria-invalid="true"' in note and 'aria-describedby="note-error note-help"' in note
    assert '<a href="#id_note">Note: Say why in the note when the reason is Other.</a>' in html


# The button and the preview.


def test_a_form_shown_again_says_on_its_button_what_execute_will_do(finance_client, make_payment):
    payment = make_payment()
    data = opened(finance_client, payment) | {"amount": "12.50", "reason": ""}
    html = finance_client.post(dialog_url(payment), data, headers=PANEL).content.decode()
    assert ">Execute refund of $12.50 to the card</span>" in html
    assert 'data-busy-label="Refunding $12.50…"' in html


def test_the_preview_shows_credits_bought_used_since_and_the_balance_after(finance_client, make_payment):
    payment = make_payment(amount=10000, credits_bought=500)  # the customer now has 500 credits
    LedgerEntryFactory(user=payment.user, kind=LedgerEntry.Kind.USAGE, credits_delta=-120)
    words = text(preview(finance_client, payment, amount="50.00"))
    assert "Refund $50.00 to the card · Partial refund" in words
    assert "Left to refund after $50.00" in words
    assert "Credits bought with this payment 500" in words
    assert "Credits used since 120" in words
    assert "Credits change \u2212250" in words  # the suggestion: half of 500
    assert "Balance after 380 → 130 credits" in words


def test_the_preview_takes_the_credits_typed_and_caps_them_at_the_balance(finance_client, make_payment):
    payment = make_payment(amount=10000, credits_bought=500)
    LedgerEntryFactory(user=payment.user, kind=LedgerEntry.Kind.USAGE, credits_delta=-450)
    words = text(preview(finance_client, payment, amount="100.00", credits_to_remove="400"))
    assert "to the card · Full refund" in words
    assert "Credits change \u221250" in words
    assert "Balance after 50 → 0 credits" in words


def test_the_preview_of_account_credits_adds_credits_and_moves_no_money(finance_client, make_payment):
    payment = make_payment(amount=10000, credits_bought=500)
    words = text(preview(finance_client, payment, type="credits", amount="20.00"))
    assert "Refund $20.00 as 100 credits on the account (no money moves)" in words
    assert "Credits change +100" in words
    assert "Balance after 500 → 600 credits" in words
    assert "StatStak Labs: $20.00 from your payment was added to your account as 100 credits." in words


def test_the_preview_shows_the_exact_text_the_customer_will_get(finance_client, make_payment):
    words = text(preview(finance_client, make_payment(), amount="12.50"))
    assert (
        "StatStak Labs: we refunded $12.50 to your original payment method. "
        "It can take 5-10 business days to appear on your statement."
    ) in words


def test_the_preview_says_no_text_when_the_box_is_off(finance_client, make_payment):
    words = text(preview(finance_client, make_payment(), amount="12.50", notify_customer=""))
    assert "No text message: Notify the customer by SMS is off." in words
    assert "StatStak Labs: we refunded" not in words


def test_the_preview_names_who_else_refunded_or_changed_credits_on_this_customer_lately(
    finance_client, finance, make_payment
):
    payment = make_payment()
    colleague = StaffFactory(first_name="Cora", last_name="Colleague", roles=["Finance"], passwordless=True)
    refund_request(payment, actor=colleague, amount=1000)
    LedgerEntryFactory(user=payment.user, kind=LedgerEntry.Kind.ADJUSTMENT, credits_delta=30, actor=finance)
    words = text(preview(finance_client, payment, amount="5.00"))
    assert "Check before you refund" in words
    assert (
        "Cora Colleague made a partial refund of $10.00 on Pro pack — 500 credits (Succeeded) on this customer"
    ) in words
    assert "You made a credit change +30 (balance 530) on this customer" in words


def test_the_preview_names_the_approval_rule(finance_client, finance, make_payment):
    payment = make_payment(amount=100000, credits_bought=5000)
    words = text(preview(finance_client, payment, amount="600.00"))
    assert "Approval needed (rule: The refund alone). This refund of $600.00 is over $500.00" in words


def test_the_preview_says_when_the_amount_is_more_than_remains(finance_client, make_payment):
    words = text(preview(finance_client, make_payment(), amount="100.01"))
    assert "That exceeds the remaining amount: at most $100.00 can still be refunded on this payment." in words
    assert "No amount yet" in words


def test_the_preview_writes_nothing(finance_client, make_payment):
    payment = make_payment()
    preview(finance_client, payment, amount="50.00", type="full", reason="duplicate")
    assert not Refund.objects.exists()
    assert LedgerEntry.objects.filter(user=payment.user).count() == 1  # the purchase only


def test_staff_who_cannot_refund_get_no_preview(client, make_payment):
    client.force_login(StaffFactory(roles=["Support"]))
    payment = make_payment()
    response = client.get(reverse("refund_preview", args=[payment.user_id, payment.pk]), headers=PREVIEW)
    assert response.status_code == 403


def test_earlier_refunds_are_collapsed_so_execute_stays_in_view(finance_client, finance, make_payment):
    payment = make_payment()
    refund_request(payment, actor=finance, amount=1000)
    html = finance_client.get(dialog_url(payment), headers=HTMX).content.decode()
    assert '<details class="earlier-refunds">' in html
    assert "Earlier refunds on this payment (1)" in html


def test_the_preview_lists_an_open_dispute_first_among_its_warnings(finance_client, make_payment):
    payment = make_payment()
    html = preview(finance_client, payment, amount="5.00")
    assert "disputes this payment" not in html  # else the check below would pass on nothing
    Dispute.objects.create(
        payment=payment,
        gateway_dispute_id="du_3PreviewWarning",
        amount=payment.amount,
        currency=payment.currency,
        reason="fraudulent",
        status=Dispute.Status.NEEDS_RESPONSE,
        reported_at=timezone.now(),
    )
    html = preview(finance_client, payment, amount="5.00")
    warnings = html.split('<ul class="preview-warnings">')[1]
    assert warnings.lstrip().startswith('<li class="warning">The customer&#x27;s bank disputes this payment (')
    assert "It cannot be refunded while the dispute is open" in warnings
