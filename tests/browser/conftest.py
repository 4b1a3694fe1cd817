"""Playwright (sync API) driving Debian's Chromium against pytest-django's `live_server`.

One browser per session, a fresh context (cookies, storage) and page per test. Every page
records console errors, uncaught exceptions and Content-Security-Policy violations; a test
that leaves any behind errors at teardown, so a broken script or a blocked inline style never
goes unnoticed.

No Chromium: in CI (`CI=true`) every browser test errors, because a suite that silently skips
its browser tests would pass without testing what staff actually use; elsewhere they skip.
"""

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from accounts.demo import FINANCE_EMAIL
from accounts.models import User
from payments.models import CreditChangeRequest, Payment
from refunds.models import Refund
from tests.factories import CustomerFactory, RefundFactory, SmsMessageFactory, StaffFactory

# Playwright's sync API runs an event loop in this thread; Django's ORM would otherwise refuse
# to run (SynchronousOnlyOperation) in the fixtures and tests that share it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
# Pages render in milliseconds here; a wait this long means something is wrong, not slow.
TIMEOUT_MS = 5_000

# Stored on `window` and reported to Python at once: a navigation would wipe `window`.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const violation = {
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
    sample: event.sample,
    page: document.location.href,
  };
  window.__cspViolations.push(violation);
  if (window.__reportCspViolation) window.__reportCspViolation(violation);
});
"""


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = Path(CHROMIUM_PATH)
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"Chromium not found at {CHROMIUM_PATH}: browser tests cannot run in CI "
            "(install Debian's chromium package, or set CHROMIUM_PATH).",
            pytrace=False,
        )
    pytest.skip(
        f"Chromium not found at {CHROMIUM_PATH}; install Debian's chromium package "
        "(or set CHROMIUM_PATH) to run browser tests"
    )


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class PageProblems:
    """What the browser complained about while a test ran."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[dict] = field(default_factory=list)

    def all(self) -> list:
        return [*self.console_errors, *self.page_errors, *self.csp_violations]


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def context(browser: Browser, live_server, page_problems: PageProblems) -> Iterator[BrowserContext]:
    # `browser` comes first: without Chromium, skip (or fail) before the database is set up.
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    context.expose_function("__reportCspViolation", lambda violation: page_problems.csp_violations.append(violation))
    context.add_init_script(CSP_LISTENER)
    yield context
    context.close()


CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.stash[CALL_REPORT] = report
    return report


@pytest.fixture
def page(request: pytest.FixtureRequest, context: BrowserContext, page_problems: PageProblems) -> Iterator[Page]:
    page = context.new_page()
    page.on(
        "console",
        lambda message: (
            page_problems.console_errors.append(f"{message.text} ({message.location})")
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: page_problems.page_errors.append(str(error)))
    yield page
    # Only after a passing test: a failure (or an expected one) already says what went wrong.
    report = request.node.stash.get(CALL_REPORT, None)
    if report is not None and report.passed:
        assert page_problems.all() == [], "the browser reported errors or CSP violations"


@pytest.fixture
def screenshot(page: Page) -> Callable[[str], None]:
    """Save a screenshot of the current step (the whole page, or the window) as artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str, *, full_page: bool = True) -> None:
        # A modal dialog covers the window, not the page: photograph it as the window shows it.
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)

    return take


@pytest.fixture(autouse=True)
def fast_password_hasher(settings) -> None:
    # The default hasher takes half a second per login by design; that is not what these test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff_member(transactional_db) -> User:
    return StaffFactory(first_name="Adam", last_name="Hobson", email="adam@statstak.test")


@pytest.fixture
def customers(transactional_db) -> dict[str, User]:
    """The help article's Elijah Herrick among look-alikes, so that a search has to narrow.

    Joined on distinct days, newest first in this order: the list's order is known.
    """
    now = timezone.now()
    people = [
        ("zoe", "Zoë", "Brontë", "zoe.bronte@example.net"),
        ("elijah_stone", "Elijah", "Stone", "elijah.stone@example.org"),
        ("martha", "Martha", "Herrick", "martha.herrick@example.com"),
        ("mary_ann", "Mary", "Ann", "mary_ann@example.org"),
        ("elijah", "Elijah", "Herrick", "elijah.herrick@example.com"),
    ]
    return {
        key: CustomerFactory(first_name=first, last_name=last, email=email, date_joined=now - timedelta(days=position))
        for position, (key, first, last, email) in enumerate(people, start=1)
    }


@pytest.fixture
def staff_page(page: Page, context: BrowserContext, live_server, staff_member: User) -> Page:
    """A page signed in as a staff member, without going through the login form."""
    client = Client()
    client.force_login(staff_member)
    session = client.cookies["sessionid"]
    context.add_cookies([{"name": "sessionid", "value": session.value, "url": live_server.url}])
    return page


@pytest.fixture
def demo_portal(transactional_db):
    """The demo data, and something waiting on the Approvals page, and a text message or two."""
    call_command("seed_demo", users=60)
    fran = User.objects.get(email=FINANCE_EMAIL)
    elijah = User.objects.get(email="elijah.herrick@example.com")
    payment = Payment.objects.filter(user=elijah).order_by("created_at").first()
    RefundFactory(
        payment=payment, amount=900, status=Refund.Status.AWAITING_APPROVAL, requested_by=fran, note="Double charge"
    )
    balance = elijah.credits
    CreditChangeRequest.objects.create(
        user=elijah, balance_before=balance, new_balance=balance + 5000, note="Goodwill", requested_by=fran
    )
    SmsMessageFactory(user=elijah, status="delivered", created_at=timezone.now() - timedelta(days=1))
    SmsMessageFactory(user=elijah, status="failed", last_error="Unreachable handset")
    return elijah
