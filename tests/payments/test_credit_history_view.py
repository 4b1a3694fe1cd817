"""GET /users/<pk>/activity/history/?before=: the Credit history region of the Activity tab, on
its own (its pager)."""

import pytest
from django.urls import reverse

from payments.models import LedgerEntry
from payments.services import credits_adjust

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "credit-history"}


def url(customer) -> str:
    return reverse("credit_history", args=[customer.pk])


@pytest.fixture
def history(customer, staff, settings) -> list[int]:
    """Six adjustments noted n1…n6, four a page; the entry ids newest first."""
    settings.CREDIT_HISTORY_PAGE_SIZE = 4
    for balance in range(1, 7):
        credits_adjust(
            user=customer, new_balance=balance, expected_balance=balance - 1, actor=staff, note=f"n{balance}"
        )
    return list(LedgerEntry.objects.filter(user=customer).order_by("-id").values_list("id", flat=True))


def test_it_renders_only_the_credit_history_region(staff_client, customer, history):
    response = staff_client.get(url(customer), headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="credit-history"')
    assert html.rstrip().endswith("</section>")
    assert ">n6<" in html and ">n3<" in html and ">n2<" not in html
    for elsewhere in ["<html", 'id="profile-tabs"', "Notifications", "Audit trail"]:
        assert elsewhere not in html, elsewhere


def test_its_pager_swaps_the_region_in_place_and_pushes_the_activity_tab_address(staff_client, customer, history):
    tab = reverse("user_activity", args=[customer.pk])
    html = staff_client.get(url(customer), headers=HTMX).content.decode()
    assert (
        f'<a class="button" rel="next" href="{tab}?before={history[3]}"\n'
        f'       hx-get="{url(customer)}?before={history[3]}" hx-target="#credit-history" hx-swap="outerHTML" '
        f'hx-push-url="{tab}?before={history[3]}">Older entries »</a>'
    ) in html


def test_an_older_page_shows_the_rest_and_links_back_to_the_newest(staff_client, customer, history):
    tab = reverse("user_activity", args=[customer.pk])
    html = staff_client.get(url(customer), {"before": history[3]}, headers=HTMX).content.decode()
    assert ">n2<" in html and ">n1<" in html and ">n3<" not in html
    assert f'<a class="button button-quiet" href="{tab}">« Newest</a>' in html
    assert "Older entries" not in html
    assert 'aria-label="Credit history pages"' in html


def test_the_activity_tab_pages_through_this_url(staff_client, customer, history):
    page = staff_client.get(reverse("user_activity", args=[customer.pk])).content.decode()
    assert f'hx-get="{url(customer)}?before={history[3]}"' in page


def test_a_bad_page_marker_is_a_400_with_a_reason(staff_client, customer):
    response = staff_client.get(url(customer), {"before": "0"}, headers=HTMX)
    assert response.status_code == 400
    assert "positive whole number" in response.content.decode()


def test_an_unknown_user_is_a_404(staff_client):
    assert staff_client.get(reverse("credit_history", args=[987654]), headers=HTMX).status_code == 404
