"""Every portal page and partial is for active staff only."""

import pytest
from django.urls import reverse

from tests.factories import CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal_urls(customer):
    return [
        reverse("user_list"),
        reverse("user_list") + "?q=elijah",
        reverse("user_detail", args=[customer.pk]),
        reverse("user_payments", args=[customer.pk]),
        reverse("user_activity", args=[customer.pk]),
    ]


def test_anonymous_visitors_are_sent_to_the_login_page(client, portal_urls):
    for url in portal_urls:
        response = client.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login") + "?next="), url


def test_a_signed_in_customer_is_refused(client, portal_urls):
    client.force_login(CustomerFactory())
    for url in portal_urls:
        assert client.get(url).status_code == 403, url
        assert client.get(url, headers={"HX-Request": "true"}).status_code == 403, url


def test_a_deactivated_staff_member_is_refused(client, portal_urls):
    staff = StaffFactory()
    client.force_login(staff)
    staff.is_active = False
    staff.save()
    for url in portal_urls:
        assert client.get(url).status_code in (302, 403), url


def test_staff_see_every_page(staff_client, portal_urls):
    for url in portal_urls:
        assert staff_client.get(url).status_code == 200, url


def test_the_root_redirects_to_users(staff_client):
    response = staff_client.get("/")
    assert response.status_code == 302
    assert response.url == reverse("user_list")
