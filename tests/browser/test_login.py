"""Staff log in and out; nobody else gets in."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import log_in, main_nav_link, url_path
from tests.factories import CustomerFactory

pytestmark = pytest.mark.browser


def test_a_staff_member_logs_in_and_lands_on_users(page: Page, staff_member, screenshot):
    page.goto("/")
    expect(page).to_have_url(url_path("/login/?next=/"))
    expect(page.get_by_role("heading", name="Log in to the admin portal", level=1)).to_be_visible()
    # Nothing of the portal shows before logging in.
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    screenshot("01-login")

    page.get_by_label("Email").fill("Adam@StatStak.test")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(url_path("/users/"))
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    expect(main_nav_link(page, "Users")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("Signed in as Adam Hobson")).to_be_visible()
    screenshot("02-users")


def test_the_keyboard_alone_logs_in(page: Page, staff_member):
    page.goto("/login/")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type("adam@statstak.test")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type("correct horse battery staple")
    page.keyboard.press("Enter")
    expect(page).to_have_url(url_path("/users/"))


def test_a_customer_account_cannot_log_in(page: Page, screenshot):
    customer = CustomerFactory(first_name="Elijah", last_name="Herrick", email="elijah.herrick@example.com")
    customer.set_password("a valid customer password")
    customer.save()

    log_in(page, "elijah.herrick@example.com", "a valid customer password")

    expect(page.get_by_role("alert")).to_have_text(
        "This account is not a staff account. The portal is for StatStak Labs staff only."
    )
    expect(page).to_have_url(url_path("/login/"))
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    screenshot("13-login-customer-refused")
    page.goto("/users/")
    expect(page).to_have_url(url_path("/login/?next=/users/"))


def test_a_wrong_password_is_refused(page: Page, staff_member, screenshot):
    log_in(page, "adam@statstak.test", "not the password")

    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct email and password")
    expect(page).to_have_url(url_path("/login/"))
    expect(page.get_by_label("Email")).to_have_value("adam@statstak.test")
    expect(page.get_by_label("Password")).to_have_value("")
    screenshot("14-login-wrong-password")


def test_log_out_returns_to_the_login_page(staff_page: Page, screenshot):
    staff_page.goto("/users/")
    staff_page.get_by_role("button", name="Log out").click()

    expect(staff_page).to_have_url(url_path("/login/"))
    expect(staff_page.get_by_role("heading", name="Log in to the admin portal")).to_be_visible()
    expect(staff_page.get_by_role("button", name="Log out")).to_have_count(0)
    screenshot("15-logged-out")
    # The session is over, not just hidden.
    staff_page.goto("/users/")
    expect(staff_page).to_have_url(url_path("/login/?next=/users/"))
