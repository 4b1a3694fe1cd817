import pytest
from django.urls import reverse

from tests.factories import STAFF_PASSWORD, CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db


def test_it_logs_in_a_staff_member_and_lands_on_users(client):
    staff = StaffFactory(email="adam@statstak.test")
    response = client.post(reverse("login"), {"username": "Adam@StatStak.test", "password": STAFF_PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("user_list")
    assert int(client.session["_auth_user_id"]) == staff.pk


def test_it_refuses_a_customer_account_with_a_clear_message(client):
    customer = CustomerFactory(email="customer@example.com")
    customer.set_password("a valid customer password")
    customer.save()
    response = client.post(
        reverse("login"), {"username": "customer@example.com", "password": "a valid customer password"}
    )
    assert response.status_code == 200
    assert "The portal is for StatStak Labs staff only." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_refuses_a_wrong_password_without_saying_whether_the_account_exists(client):
    StaffFactory(email="adam@statstak.test")
    wrong = client.post(reverse("login"), {"username": "adam@statstak.test", "password": "nope"})
    unknown = client.post(reverse("login"), {"username": "nobody@statstak.test", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 200
    assert "Please enter a correct email and password" in wrong.content.decode()
    assert "Please enter a correct email and password" in unknown.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_refuses_an_inactive_staff_member(client):
    StaffFactory(email="gone@statstak.test", is_active=False)
    response = client.post(reverse("login"), {"username": "gone@statstak.test", "password": STAFF_PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_it_logs_out_on_post_only(staff_client):
    assert staff_client.get(reverse("logout")).status_code == 405
    response = staff_client.post(reverse("logout"))
    assert response.status_code == 302
    assert response.url == reverse("login")
    assert "_auth_user_id" not in staff_client.session


def test_the_login_page_renders_without_inline_scripts_and_with_a_csp(client):
    response = client.get(reverse("login"))
    html = response.content.decode()
    csp = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp
    assert "script-src 'self'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in html
    assert 'style="' not in html
