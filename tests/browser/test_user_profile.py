"""A user's profile: opened from the Users list, with tabs that are links and keep history."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import (
    document_was_kept,
    main_nav_link,
    mark_document,
    result_names,
    search_box,
    url_path,
)
from tests.factories import PaymentFactory

pytestmark = pytest.mark.browser


def tab(page: Page, name: str):
    return page.get_by_role("navigation", name="Profile sections").get_by_role("link", name=name, exact=True)


def test_a_click_on_a_name_opens_the_profile(staff_page: Page, customers, screenshot):
    elijah = customers["elijah"]
    staff_page.goto("/users/")
    search_box(staff_page).press_sequentially("elij", delay=40)
    result_names(staff_page, "elij").get_by_text("Elijah Herrick", exact=True).click()

    expect(staff_page).to_have_url(url_path(f"/users/{elijah.pk}/"))
    expect(staff_page.get_by_role("heading", name="Elijah Herrick", level=1)).to_be_visible()
    expect(staff_page.get_by_text("elijah.herrick@example.com").first).to_be_visible()
    expect(staff_page).to_have_title("Elijah Herrick · StatStak Labs")
    expect(main_nav_link(staff_page, "Users")).to_have_attribute("aria-current", "page")
    tabs = staff_page.get_by_role("navigation", name="Profile sections").get_by_role("link")
    expect(tabs).to_have_text(["Overview", "Payments", "Activity"])
    expect(tab(staff_page, "Overview")).to_have_attribute("aria-current", "page")
    expect(staff_page.get_by_role("heading", name="Contact details")).to_be_visible()
    screenshot("09-profile-overview")


def test_the_payments_tab_shows_payment_info_and_past_payments(staff_page: Page, customers, screenshot):
    elijah = customers["elijah"]
    staff_page.goto(f"/users/{elijah.pk}/")
    mark_document(staff_page)

    tab(staff_page, "Payments").click()

    expect(staff_page).to_have_url(url_path(f"/users/{elijah.pk}/payments/"))
    expect(staff_page.get_by_role("heading", name="Payment info")).to_be_visible()
    expect(staff_page.get_by_role("heading", name="Past payments")).to_be_visible()
    expect(tab(staff_page, "Payments")).to_have_attribute("aria-current", "page")
    expect(tab(staff_page, "Overview")).not_to_have_attribute("aria-current", "page")
    expect(staff_page.get_by_role("heading", name="Contact details")).to_have_count(0)
    assert document_was_kept(staff_page), "the tab was loaded with a full page load, not swapped in"
    screenshot("10-profile-payments")


def test_back_and_forward_move_between_tabs(staff_page: Page, customers, screenshot):
    elijah = customers["elijah"]
    staff_page.goto(f"/users/{elijah.pk}/")
    tab(staff_page, "Payments").click()
    expect(staff_page.get_by_role("heading", name="Payment info")).to_be_visible()

    staff_page.go_back()

    expect(staff_page).to_have_url(url_path(f"/users/{elijah.pk}/"))
    expect(tab(staff_page, "Overview")).to_have_attribute("aria-current", "page")
    expect(staff_page.get_by_role("heading", name="Contact details")).to_be_visible()
    expect(staff_page.get_by_role("heading", name="Payment info")).to_have_count(0)
    screenshot("11-profile-back-to-overview")

    staff_page.go_forward()

    expect(staff_page).to_have_url(url_path(f"/users/{elijah.pk}/payments/"))
    expect(tab(staff_page, "Payments")).to_have_attribute("aria-current", "page")
    expect(staff_page.get_by_role("heading", name="Payment info")).to_be_visible()


# Regression: a tab's URL answers a whole page or its tabs region by the HX-Request header;
# without `Vary` (and no-store) Chromium's Back showed the fragment last fetched at that URL.
def test_back_from_a_profile_returns_to_the_search(staff_page: Page, customers, screenshot):
    staff_page.goto("/users/")
    search_box(staff_page).press_sequentially("elijah herr", delay=40)
    result_names(staff_page, "elijah herr").get_by_text("Elijah Herrick", exact=True).click()
    expect(staff_page.get_by_role("heading", name="Elijah Herrick", level=1)).to_be_visible()

    staff_page.go_back()

    expect(result_names(staff_page, "elijah herr")).to_have_text(["Elijah Herrick"])
    screenshot("17-back-from-profile-to-search")
    expect(search_box(staff_page)).to_have_value("elijah herr", timeout=1_000)
    expect(main_nav_link(staff_page, "Users")).to_be_visible(timeout=1_000)


def test_back_to_a_tab_after_leaving_the_profile(staff_page: Page, customers, screenshot):
    elijah = customers["elijah"]
    staff_page.goto(f"/users/{elijah.pk}/")
    tab(staff_page, "Payments").click()
    expect(staff_page.get_by_role("heading", name="Payment info")).to_be_visible()
    main_nav_link(staff_page, "Users").click()
    expect(staff_page.get_by_role("heading", name="Users", level=1)).to_be_visible()

    staff_page.go_back()

    expect(staff_page).to_have_url(url_path(f"/users/{elijah.pk}/payments/"))
    expect(staff_page.get_by_role("heading", name="Payment info")).to_be_visible()
    screenshot("18-back-to-payments-tab")
    expect(staff_page.get_by_role("heading", name="Elijah Herrick", level=1)).to_be_visible(timeout=1_000)
    expect(main_nav_link(staff_page, "Users")).to_be_visible(timeout=1_000)


def test_each_tab_has_its_own_address(staff_page: Page, customers, screenshot):
    elijah = customers["elijah"]
    staff_page.goto(f"/users/{elijah.pk}/payments/")
    expect(tab(staff_page, "Payments")).to_have_attribute("aria-current", "page")
    expect(staff_page.get_by_role("heading", name="Payment info")).to_be_visible()

    staff_page.goto(f"/users/{elijah.pk}/activity/")
    expect(tab(staff_page, "Activity")).to_have_attribute("aria-current", "page")
    expect(tab(staff_page, "Payments")).not_to_have_attribute("aria-current", "page")
    screenshot("12-profile-activity")


def test_the_breadcrumb_leads_back_to_users(staff_page: Page, customers):
    staff_page.goto(f"/users/{customers['elijah'].pk}/")
    breadcrumb = staff_page.get_by_role("navigation", name="Breadcrumb")
    expect(breadcrumb.locator("[aria-current=page]")).to_have_text("Elijah Herrick")

    breadcrumb.get_by_role("link", name="Users").click()

    expect(staff_page).to_have_url(url_path("/users/"))
    expect(staff_page.get_by_role("heading", name="Users", level=1)).to_be_visible()


def test_older_payments_load_in_place_with_their_own_address_and_back_returns_to_the_newest(
    staff_page: Page, customers, screenshot
):
    elijah = customers["elijah"]
    for n in range(12):
        PaymentFactory(user=elijah, description=f"Pack {n}")
    staff_page.goto(f"/users/{elijah.pk}/payments/")
    past_payments = staff_page.get_by_role("region", name="Past payments").locator("tbody tr")
    expect(past_payments).to_have_count(10)
    mark_document(staff_page)

    pager = staff_page.get_by_role("navigation", name="Past payments pages")
    pager.get_by_role("link", name="Older payments »").click()

    expect(past_payments).to_have_count(2)
    expect(staff_page.get_by_role("region", name="Past payments")).to_contain_text("Pack 0")
    expect(staff_page).to_have_url(re.compile(rf"/users/{elijah.pk}/payments/\?before=\d+$"))
    expect(pager.get_by_role("link", name="« Newest")).to_be_visible()
    expect(staff_page.get_by_role("heading", name="Payment info")).to_be_visible()
    assert document_was_kept(staff_page), "the older payments came with a full page load, not swapped in"
    screenshot("19-older-payments")

    staff_page.go_back()

    expect(staff_page).to_have_url(url_path(f"/users/{elijah.pk}/payments/"))
    expect(past_payments).to_have_count(10)
    expect(tab(staff_page, "Payments")).to_have_attribute("aria-current", "page")

    staff_page.go_forward()

    expect(past_payments).to_have_count(2)
    expect(staff_page.get_by_role("heading", name="Elijah Herrick", level=1)).to_be_visible()
