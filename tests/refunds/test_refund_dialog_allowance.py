"""The refund dialog says, before Execute, whether the refund needs a second person and by which
rule, how much more goes ahead without one, and what is left of the staff member's daily cap."""

import pytest
from django.urls import reverse

from tests.helpers import refund_request

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true"}


def dialog(client, payment) -> str:
    return client.get(reverse("refund_create", args=[payment.user_id, payment.pk]), headers=HTMX).content.decode()


def test_a_fresh_dialog_shows_the_headroom_and_the_daily_cap(client, make_payment, finance):
    client.force_login(finance)
    html = dialog(client, make_payment(amount=10000))
    assert "Up to $500.00 goes ahead without a second person." in html
    assert "Your refunds today: $0.00 of your $5,000.00 daily limit; $5,000.00 left." in html
    assert "a second person must approve" not in html


def test_it_names_the_rule_the_full_refund_falls_under(client, make_payment, finance):
    payment = make_payment(amount=60000)
    refund_request(payment, actor=finance, amount=30000)
    client.force_login(finance)
    html = dialog(client, payment)  # a full refund of the $300.00 left
    assert (
        "This refund brings your refunds on this payment today to $600.00, over $500.00: "
        "a second person must approve." in html
    )
    assert "Up to $200.00 goes ahead without a second person." in html
    assert "Your refunds today: $300.00 of your $5,000.00 daily limit; $4,700.00 left." in html


def test_a_refused_form_is_judged_on_the_amount_typed(client, make_payment, finance):
    payment = make_payment(amount=200000)
    client.force_login(finance)
    form = {
        "type": "partial",
        "amount": "600.00",
        "reason": "other",
        "note": "",
        "credits_to_remove": "0",
        "idempotency_key": "allowance-key-000001",
        "expected_reserved": "0",
    }
    response = client.post(reverse("refund_create", args=[payment.user_id, payment.pk]), form, headers=HTMX)
    assert response.status_code == 422  # Other needs a note
    assert "This refund of $600.00 is over $500.00: a second person must approve." in response.content.decode()
