"""GET /users/<pk>/payments/info/: the Payment info region of the Payments tab, on its own."""

import re

import pytest
from django.urls import reverse

from payments.services import credits_adjust

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "payment-info"}


def url(customer) -> str:
    return reverse("payment_info", args=[customer.pk])


@pytest.fixture
def editor(client, credits_staff):
    client.force_login(credits_staff)
    return client


def test_it_renders_only_the_payment_info_region(editor, customer):
    response = editor.get(url(customer), headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="payment-info"')
    assert html.rstrip().endswith("</section>")
    assert ">Payment info</h2>" in html
    assert 'aria-label="Save credits"' in html
    for elsewhere in ["<html", 'id="profile-tabs"', "Past payments", "Recent credit changes", "hx-swap-oob"]:
        assert elsewhere not in html, elsewhere


def test_it_shows_the_balance_as_it_is_now_and_bases_the_next_save_on_it(editor, customer, staff):
    editor.get(url(customer), headers=HTMX)
    credits_adjust(user=customer, new_balance=75, expected_balance=0, actor=staff)
    html = editor.get(url(customer), headers=HTMX).content.decode()
    assert re.search(r'name="credits"[^>]*value="75"', html)  # the editor starts from it
    assert 'name="expected_balance" value="75"' in html
    assert "Current balance 75." in html


def test_staff_without_the_credits_permission_see_the_balance_read_only(viewer_client, customer):
    html = viewer_client.get(url(customer), headers=HTMX).content.decode()
    assert "You can view credits but not change them." in html
    assert "Save credits" not in html


def test_the_payments_tab_refreshes_it_from_this_url_after_a_refund(editor, customer):
    page = editor.get(reverse("user_payments", args=[customer.pk])).content.decode()
    assert f'hx-get="{url(customer)}" hx-trigger="refund-executed from:body"' in page


def test_it_refuses_a_post(editor, customer):
    assert editor.post(url(customer), {"credits": "5"}, headers=HTMX).status_code == 405


def test_an_unknown_user_is_a_404(editor):
    assert editor.get(reverse("payment_info", args=[987654]), headers=HTMX).status_code == 404
