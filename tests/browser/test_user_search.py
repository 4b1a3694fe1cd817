"""The Users list: live search as a staff member types, and the keyboard way around it."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import document_was_kept, mark_document, result_names, search_box, url_path

pytestmark = pytest.mark.browser

TYPING_DELAY_MS = 40  # a brisk typist: several keystrokes inside htmx's 250 ms debounce


def test_it_lists_the_newest_users_first(staff_page: Page, customers):
    staff_page.goto("/users/")
    expect(result_names(staff_page, "")).to_have_text(
        ["Adam Hobson", "Zoë Brontë", "Elijah Stone", "Martha Herrick", "Mary Ann", "Elijah Herrick"]
    )


def test_typing_shows_matches_without_a_page_reload(staff_page: Page, customers, screenshot):
    staff_page.goto("/users/")
    box = search_box(staff_page)
    expect(box).to_be_focused()
    mark_document(staff_page)

    box.press_sequentially("elij", delay=TYPING_DELAY_MS)

    expect(result_names(staff_page, "elij")).to_have_text(["Elijah Stone", "Elijah Herrick"])
    expect(staff_page).to_have_url(url_path("/users/?q=elij"))
    assert document_was_kept(staff_page), "the results came with a full page load"
    # Only the results were swapped: the box still has the focus and everything typed.
    expect(box).to_be_focused()
    expect(box).to_have_value("elij")
    screenshot("03-search-elij")

    staff_page.reload()
    expect(result_names(staff_page, "elij")).to_have_text(["Elijah Stone", "Elijah Herrick"])
    expect(search_box(staff_page)).to_have_value("elij")
    screenshot("04-search-elij-reloaded")


def test_several_words_narrow_the_search(staff_page: Page, customers, screenshot):
    staff_page.goto("/users/")
    search_box(staff_page).press_sequentially("elijah herr", delay=TYPING_DELAY_MS)

    expect(result_names(staff_page, "elijah herr")).to_have_text(["Elijah Herrick"])
    # htmx writes the space as %20, a form submit as +: both are the same search.
    expect(staff_page).to_have_url(re.compile(r"/users/\?q=elijah(%20|\+)herr$"))
    screenshot("05-search-elijah-herr")


def test_it_finds_names_without_their_accents_and_by_email(staff_page: Page, customers):
    staff_page.goto("/users/")
    box = search_box(staff_page)
    box.press_sequentially("zoe bronte", delay=TYPING_DELAY_MS)
    expect(result_names(staff_page, "zoe bronte")).to_have_text(["Zoë Brontë"])

    box.fill("")
    box.press_sequentially("herrick@example", delay=TYPING_DELAY_MS)
    expect(result_names(staff_page, "herrick@example")).to_have_text(["Martha Herrick", "Elijah Herrick"])


def test_a_search_without_matches_says_so(staff_page: Page, customers, screenshot):
    staff_page.goto("/users/")
    search_box(staff_page).press_sequentially("nobody-here", delay=TYPING_DELAY_MS)

    expect(staff_page.get_by_text("No users match “nobody-here”.")).to_be_visible()
    expect(staff_page.get_by_role("table")).to_have_count(0)
    screenshot("06-search-no-match")


def test_percent_and_underscore_are_searched_for_literally(staff_page: Page, customers, screenshot):
    staff_page.goto("/users/")
    box = search_box(staff_page)

    box.press_sequentially("%", delay=TYPING_DELAY_MS)
    expect(staff_page.get_by_text("No users match “%”.")).to_be_visible()
    screenshot("07-search-percent")

    box.fill("")
    expect(result_names(staff_page, "")).to_have_count(6)
    box.press_sequentially("_", delay=TYPING_DELAY_MS)
    # Only the email with an underscore, not every user (`_` is not a wildcard).
    expect(result_names(staff_page, "_")).to_have_text(["Mary Ann"])
    screenshot("08-search-underscore")

    # The page is still usable afterwards.
    box.fill("")
    box.press_sequentially("elij", delay=TYPING_DELAY_MS)
    expect(result_names(staff_page, "elij")).to_have_text(["Elijah Stone", "Elijah Herrick"])


def test_slash_focuses_the_search_box(staff_page: Page, customers):
    staff_page.goto("/users/")
    box = search_box(staff_page)
    box.blur()
    expect(box).not_to_be_focused()

    staff_page.keyboard.press("/")

    expect(box).to_be_focused()
    expect(box).to_have_value("")  # the "/" is a shortcut, not typed into the box


def test_tab_reaches_the_results_and_enter_opens_one(staff_page: Page, customers, screenshot):
    staff_page.goto("/users/")
    search_box(staff_page).press_sequentially("elijah herr", delay=TYPING_DELAY_MS)
    elijah = result_names(staff_page, "elijah herr").filter(has_text="Elijah Herrick")
    expect(elijah).to_be_visible()

    staff_page.keyboard.press("Tab")
    expect(staff_page.get_by_role("button", name="Search")).to_be_focused()
    staff_page.keyboard.press("Tab")
    expect(elijah).to_be_focused()
    screenshot("16-keyboard-result-focused")

    staff_page.keyboard.press("Enter")
    expect(staff_page).to_have_url(url_path(f"/users/{customers['elijah'].pk}/"))
    expect(staff_page.get_by_role("heading", name="Elijah Herrick", level=1)).to_be_visible()
