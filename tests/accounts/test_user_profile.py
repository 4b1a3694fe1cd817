"""The user profile page and its tabs."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

TABS = [("user_detail", "Overview"), ("user_payments", "Payments"), ("user_activity", "Activity")]


def test_it_shows_name_contact_details_credits_and_member_since(staff_client, customer):
    customer.credits = 1500
    customer.save()
    html = staff_client.get(reverse("user_detail", args=[customer.pk])).content.decode()
    for expected in [
        "Elijah Herrick",
        "elijah.herrick@example.com",
        "+1 202-555-0143",
        "1,500",
        "Member since",
    ]:
        assert expected in html


@pytest.mark.parametrize(("url_name", "label"), TABS)
def test_each_tab_has_its_own_url_and_marks_itself_current(staff_client, customer, url_name, label):
    html = staff_client.get(reverse(url_name, args=[customer.pk])).content.decode()
    assert f'aria-current="page">{label}</a>' in html
    for other_url_name, other_label in TABS:
        link = reverse(other_url_name, args=[customer.pk])
        assert f'href="{link}" hx-get="{link}"' in html
        if other_label != label:
            assert f'aria-current="page">{other_label}</a>' not in html


def test_the_payments_tab_has_payment_info_and_past_payments(staff_client, customer):
    html = staff_client.get(reverse("user_payments", args=[customer.pk])).content.decode()
    assert ">Payment info</h2>" in html
    assert ">Credits</dt>" in html
    assert ">Past payments</h2>" in html


def test_an_htmx_tab_switch_returns_only_the_tabs_region(staff_client, customer):
    response = staff_client.get(
        reverse("user_payments", args=[customer.pk]),
        headers={"HX-Request": "true", "HX-Target": "profile-tabs"},
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="profile-tabs">')
    assert "Payment info" in html
    assert "<html" not in html
    assert 'id="profile-name"' not in html


def test_a_history_restore_gets_the_whole_page(staff_client, customer):
    # htmx asks for the whole page when Back reaches an address it holds no copy of.
    response = staff_client.get(
        reverse("user_payments", args=[customer.pk]),
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    html = response.content.decode()
    assert "<html" in html
    assert 'id="profile-name"' in html


def test_a_tab_says_its_answer_depends_on_hx_request_only(staff_client, customer):
    # A tab's URL answers a whole page or the tabs region, by HX-Request alone: the regions inside
    # a tab have URLs of their own, so nothing depends on HX-Target.
    response = staff_client.get(reverse("user_payments", args=[customer.pk]))
    vary = [header.strip() for header in response["Vary"].split(",")]
    assert "HX-Request" in vary
    assert "HX-Target" not in vary
    assert "no-store" in response["Cache-Control"]


def test_an_unknown_user_is_a_404(staff_client):
    assert staff_client.get(reverse("user_detail", args=[987654321])).status_code == 404


def test_a_user_without_a_phone_says_so(staff_client, customer):
    customer.phone = ""
    customer.save()
    html = staff_client.get(reverse("user_detail", args=[customer.pk])).content.decode()
    assert "No phone number" in html
