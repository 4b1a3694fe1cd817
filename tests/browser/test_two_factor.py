"""Two-factor authentication in a real browser: enrolment with the app, recovery codes, the verify
step, and a session that passed only the password seeing nothing of the portal."""

import re
import time

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from tests.browser.helpers import log_in, main_nav_link, url_path
from tests.people import totp_code, totp_device_confirmed

pytestmark = pytest.mark.browser

SETUP = "/account/two-factor/setup/?next=%2Fusers%2F"
VERIFY = "/account/two-factor/verify/?next=%2Fusers%2F"


@pytest.fixture(autouse=True)
def require_2fa(settings) -> None:
    settings.STATSTAK_REQUIRE_2FA = True


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(url_path("/login/"))


def test_a_staff_member_sets_up_the_app_then_logs_in_with_a_code_or_a_recovery_code(
    page: Page, page_problems, staff_member, screenshot
):
    log_in(page, "adam@statstak.test")

    # Straight from the password to the setup page: nothing of the portal on the way.
    expect(page).to_have_url(url_path(SETUP))
    expect(page.get_by_role("heading", name="Set up two-factor authentication", level=1)).to_be_visible()
    expect(main_nav_link(page, "Users")).to_have_count(0)
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    assert qr.evaluate("svg => svg.getBoundingClientRect().width") >= 150  # sized by the stylesheet
    assert qr.evaluate("svg => svg.querySelectorAll('[style]').length") == 0
    secret = page.locator("#two-factor-secret").inner_text()
    assert re.fullmatch(r"([A-Z2-7]{4} )+[A-Z2-7]{4}", secret)
    screenshot("30-two-factor-setup")

    # A wrong code first, then the app's.
    page.get_by_label("Code from the app").fill("000000")
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    page_problems.console_errors[:] = [e for e in page_problems.console_errors if "status of 422" not in e]
    assert page.locator("#two-factor-secret").inner_text() == secret  # the same key to retry with
    page.wait_for_timeout(1100)  # after a wrong code the next is taken a second later (django-otp's throttle)
    page.get_by_label("Code from the app").fill(totp_code(secret))
    page.get_by_role("button", name="Turn on two-factor authentication").click()

    expect(page.get_by_role("heading", name="Two-factor authentication is on")).to_be_visible()
    codes = page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    recovery_code = codes.first.inner_text()
    screenshot("31-two-factor-recovery-codes")
    page.get_by_role("link", name="Continue").click()
    expect(page).to_have_url(url_path("/users/"))
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()

    # Next login: a recovery code, as printed.
    log_out(page)
    log_in(page, "adam@statstak.test")
    expect(page).to_have_url(url_path(VERIFY))
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    screenshot("32-two-factor-verify")
    page.get_by_label("Code", exact=True).fill(recovery_code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("main").get_by_role("status")).to_contain_text("You used a recovery code; 9 of 10 are left")
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()

    # The same recovery code again: refused; the app's code (its next one) gets in.
    log_out(page)
    log_in(page, "adam@statstak.test")
    page.get_by_label("Code", exact=True).fill(recovery_code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    page_problems.console_errors[:] = [e for e in page_problems.console_errors if "status of 422" not in e]
    device = TOTPDevice.objects.get(user=staff_member)
    # The enrolment used the current code, and a code works once: the app's next one.
    page.get_by_label("Code", exact=True).fill(totp_code(device, at=time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(url_path("/users/"))
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()


def test_a_session_that_passed_only_the_password_sees_nothing_of_the_portal(
    page: Page, page_problems, staff_member, customers
):
    totp_device_confirmed(staff_member)
    elijah = customers["elijah"]
    log_in(page, "adam@statstak.test")
    expect(page).to_have_url(url_path(VERIFY))

    for path in ["/users/", f"/users/{elijah.pk}/", f"/users/{elijah.pk}/payments/", f"/users/{elijah.pk}/activity/"]:
        page.goto(path)
        expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
        expect(page.get_by_text("Herrick")).to_have_count(0)
        expect(main_nav_link(page, "Users")).to_have_count(0)

    # An HTMX partial fetched by hand (as a stale tab would): 403, with htmx sent to the verify step.
    answer = page.evaluate(
        """async (url) => {
          const response = await fetch(url, {headers: {"HX-Request": "true", "HX-Target": "user-results"}});
          return {status: response.status, redirect: response.headers.get("HX-Redirect"), body: await response.text()};
        }""",
        "/users/?q=elijah",
    )
    assert answer["status"] == 403
    assert answer["redirect"] == "/account/two-factor/verify/"
    assert "Herrick" not in answer["body"]
    page_problems.console_errors[:] = [e for e in page_problems.console_errors if "status of 403" not in e]

    # Logging out still works.
    log_out(page)
