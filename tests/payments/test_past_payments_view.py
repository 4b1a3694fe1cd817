"""GET /users/<pk>/payments/history/?before=: the Past payments region of the Payments tab, on
its own: its pager, and its refresh after a refund."""

import pytest
from django.urls import reverse

from accounts.roles import FINANCE
from payments.models import Payment
from tests.factories import PaymentFactory, StaffFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "past-payments"}


def url(customer) -> str:
    return reverse("past_payments", args=[customer.pk])


@pytest.fixture
def finance_client(client, db):
    client.force_login(StaffFactory(roles=[FINANCE]))
    return client


def payments_make(customer, count: int) -> list[int]:
    """`count` payments, described "Pack <n>", oldest first; their ids newest first."""
    for n in range(count):
        PaymentFactory(user=customer, description=f"Pack {n}")
    return list(Payment.objects.filter(user=customer).order_by("-created_at", "-id").values_list("pk", flat=True))


def test_it_renders_only_the_past_payments_region(finance_client, customer):
    PaymentFactory(user=customer, description="Pro pack — 500 credits")
    response = finance_client.get(url(customer), headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="past-payments"')
    assert html.rstrip().endswith("</section>")
    assert ">Past payments</h2>" in html
    assert "Pro pack — 500 credits" in html
    assert ">Create refund</a>" in html
    for elsewhere in ["<html", 'id="profile-tabs"', "Payment info", "Recent credit changes"]:
        assert elsewhere not in html, elsewhere


def test_its_pager_swaps_the_region_in_place_and_pushes_the_payments_tab_address(finance_client, customer):
    ids = payments_make(customer, 12)
    tab = reverse("user_payments", args=[customer.pk])
    html = finance_client.get(url(customer), headers=HTMX).content.decode()
    assert html.count('<tr id="payment-') == 10
    assert (
        f'<a class="button" rel="next" href="{tab}?before={ids[9]}"\n'
        f'       hx-get="{url(customer)}?before={ids[9]}" hx-target="#past-payments" hx-swap="outerHTML" '
        f'hx-push-url="{tab}?before={ids[9]}">Older payments »</a>'
    ) in html
    assert "« Newest" not in html


def test_an_older_page_shows_the_rest_and_links_back_to_the_newest(finance_client, customer):
    ids = payments_make(customer, 12)
    tab = reverse("user_payments", args=[customer.pk])
    html = finance_client.get(url(customer), {"before": ids[9]}, headers=HTMX).content.decode()
    assert html.count('<tr id="payment-') == 2
    assert ">Pack 1<" in html and ">Pack 0<" in html and ">Pack 2<" not in html
    assert f'<a class="button button-quiet" href="{tab}">« Newest</a>' in html
    assert "Older payments" not in html
    assert 'aria-label="Past payments pages"' in html


def test_without_the_refund_permission_it_offers_no_refund(staff_client, customer):
    PaymentFactory(user=customer)
    html = staff_client.get(url(customer), headers=HTMX).content.decode()
    assert ">Past payments</h2>" in html
    assert "Create refund" not in html


def test_the_payments_tab_refreshes_it_from_this_url_after_a_refund(finance_client, customer):
    page = finance_client.get(reverse("user_payments", args=[customer.pk])).content.decode()
    assert f'hx-get="{url(customer)}" hx-trigger="refund-executed from:body"' in page


def test_a_bad_page_marker_is_a_400_with_a_reason(finance_client, customer):
    response = finance_client.get(url(customer), {"before": "x"}, headers=HTMX)
    assert response.status_code == 400
    assert "positive whole number" in response.content.decode()


def test_an_unknown_user_is_a_404(finance_client):
    assert finance_client.get(reverse("past_payments", args=[987654]), headers=HTMX).status_code == 404
