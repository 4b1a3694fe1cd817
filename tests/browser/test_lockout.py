"""Guessing passwords in a browser: the fifth wrong one locks the login out, in the login form itself."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import log_in, url_path

pytestmark = pytest.mark.browser

LOCKED = (
    "Too many failed attempts to log in. For your security, logging in is paused for 15 minutes; try again after that."
)


def test_five_wrong_passwords_lock_the_login_out_even_for_the_right_one(
    page: Page, page_problems, staff_member, screenshot
):
    for _ in range(4):
        log_in(page, "adam@statstak.test", "not the password")
        expect(page.get_by_role("alert")).to_contain_text("Please enter a correct email and password")

    log_in(page, "adam@statstak.test", "not the password")
    expect(page.get_by_role("alert")).to_have_text(LOCKED)
    expect(page.get_by_label("Email")).to_have_value("adam@statstak.test")
    screenshot("33-login-locked-out")

    log_in(page, "adam@statstak.test")  # the right password
    expect(page.get_by_role("alert")).to_have_text(LOCKED)
    expect(page).to_have_url(url_path("/login/"))
    page.goto("/users/")
    expect(page).to_have_url(url_path("/login/?next=/users/"))
    # The browser reports each 429 page load; they are expected here, nothing else is.
    page_problems.console_errors[:] = [e for e in page_problems.console_errors if "status of 429" not in e]


def test_an_email_with_no_account_is_locked_out_in_the_same_words(page: Page, page_problems):
    for _ in range(5):
        log_in(page, "nobody@statstak.test", "not the password")
    expect(page.get_by_role("alert")).to_have_text(LOCKED)
    page_problems.console_errors[:] = [e for e in page_problems.console_errors if "status of 429" not in e]
