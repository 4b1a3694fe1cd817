"""What the browser tests do over and over, in the words a staff member would use."""

import re

from playwright.sync_api import Locator, Page

from tests.factories import STAFF_PASSWORD


def log_in(page: Page, email: str, password: str = STAFF_PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def url_path(path: str) -> re.Pattern[str]:
    """The page's URL, whatever the live server's host and port, ending with `path` exactly."""
    return re.compile(r"^https?://[^/]+" + re.escape(path) + "$")


def search_box(page: Page) -> Locator:
    return page.get_by_role("searchbox", name="Search users")


def main_nav_link(page: Page, name: str) -> Locator:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def result_names(page: Page, query: str) -> Locator:
    """The name links in the results table for `query` (its caption names it)."""
    caption = f"Users matching “{query}”" if query else "Newest users"
    return page.get_by_role("table", name=caption, exact=True).get_by_role("link")


def mark_document(page: Page) -> None:
    """Tag the current document; `document_was_kept` tells whether a full page load replaced it."""
    page.evaluate("window.__sameDocument = true")


def document_was_kept(page: Page) -> bool:
    return page.evaluate("window.__sameDocument === true")
