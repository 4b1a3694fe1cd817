"""Every URL of the portal, and every HTMX partial, asked by every kind of visitor.

The matrix below is the portal's access policy in one place. `test_every_url_is_in_the_matrix`
walks the URL resolver: a URL added without a row here fails the suite, so nobody adds a page
without saying who may see it. To add a page: add a row to `MATRIX` (its URL name → the
requests to make and, for each visitor, the answer expected).

Visitors: nobody logged in; a customer's account (customers have no business here); staff with
no role; Support, Finance and Administrator; an Administrator whose session passed the second
factor while 2FA is required; and an Administrator whose session passed only the password while
2FA is required (reaches no page and no partial).
"""

import re
from dataclasses import dataclass, field

import pytest
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_otp import DEVICE_ID_SESSION_KEY

from payments.models import Payment
from refunds.models import Refund
from tests.factories import PaymentFactory, SmsMessageFactory
from tests.security.conftest import ADMINISTRATOR, FINANCE, SUPPORT, staff_with_role, totp_device_confirmed

pytestmark = pytest.mark.django_db

# Who asks.
ANONYMOUS = "anonymous"
CUSTOMER = "customer"
NO_ROLE = "no_role"
SUPPORT_STAFF = "support"
FINANCE_STAFF = "finance"
ADMIN_STAFF = "administrator"
ADMIN_2FA = "administrator_2fa_verified"
PASSWORD_ONLY = "password_only"
VISITORS = [ANONYMOUS, CUSTOMER, NO_ROLE, SUPPORT_STAFF, FINANCE_STAFF, ADMIN_STAFF, ADMIN_2FA, PASSWORD_ONLY]
STAFF_ROLES = {NO_ROLE: None, SUPPORT_STAFF: SUPPORT, FINANCE_STAFF: FINANCE, ADMIN_STAFF: ADMINISTRATOR}


@dataclass(frozen=True)
class Redirect:
    """A 302 whose Location starts with `to`."""

    to: str

    def __repr__(self) -> str:
        return f"302→{self.to}"


LOGIN = Redirect("/login/?next=")
VERIFY = Redirect("/account/two-factor/verify/?next=")
SETUP = Redirect("/account/two-factor/setup/?next=")
HOME = Redirect("/users/")


@dataclass
class Probe:
    method: str
    expect: dict
    htmx_target: str | None = None  # an HTMX request swapping this page region
    data: dict = field(default_factory=dict)  # may name {customer_credits}: filled in when sent

    def label(self) -> str:
        return self.method + (f" hx:{self.htmx_target}" if self.htmx_target else "")


def staff_view(method="GET", *, allowed=(), ok=200, htmx_target=None, data=None, **overrides) -> Probe:
    """A portal view behind `staff_required`: the login page for nobody, 403 for customers and for
    staff whose role does not allow it, `ok` for those in `allowed`; and for a password-only
    session, the verify step (a page) or 403 (an HTMX request or a POST)."""
    expect = {ANONYMOUS: LOGIN, CUSTOMER: 403}
    for visitor in STAFF_ROLES:
        expect[visitor] = ok if visitor in allowed else 403
    expect[ADMIN_2FA] = expect[ADMIN_STAFF]
    expect[PASSWORD_ONLY] = 403 if (htmx_target or method != "GET") else VERIFY
    expect.update(overrides)
    return Probe(method, expect, htmx_target, data or {})


def everyone(method="GET", answer=200, data=None, **overrides) -> Probe:
    """A public view: the same answer whoever asks."""
    return Probe(method, {visitor: answer for visitor in VISITORS} | overrides, None, data or {})


EVERY_ROLE = {SUPPORT_STAFF, FINANCE_STAFF, ADMIN_STAFF}
REFUNDERS = {FINANCE_STAFF, ADMIN_STAFF}
STAFF = {NO_ROLE, *EVERY_ROLE}
# A POST-only view asked with GET: the method is refused before anything else, once logged in.
GET_REFUSED = {CUSTOMER: 405, NO_ROLE: 405, SUPPORT_STAFF: 405, FINANCE_STAFF: 405, ADMIN_STAFF: 405, ADMIN_2FA: 405}
CREDITS_CHANGE = {"credits": "{customer_credits_plus_one}", "expected_balance": "{customer_credits}", "note": ""}

MATRIX: dict[str, list[Probe]] = {
    # The root: a redirect to Users for anyone logged in (the Users page then says who may see it).
    "/": [staff_view(ok=302, allowed=STAFF, **{CUSTOMER: HOME}, **{v: HOME for v in STAFF | {ADMIN_2FA}})],
    "login": [
        everyone(answer=HOME, **{ANONYMOUS: 200}),
        # Wrong password: the form again for a visitor; anyone logged in is sent on.
        everyone("POST", answer=HOME, data={"username": "nobody@example.com", "password": "wrong"}, **{ANONYMOUS: 200}),
    ],
    "logout": [
        everyone("GET", answer=405, **{ANONYMOUS: LOGIN}),
        everyone("POST", answer=Redirect("/login/"), **{ANONYMOUS: LOGIN}),
    ],
    # The 2FA pages: staff only (no role needed); a password-only session is where they lead it.
    "two_factor_setup": [
        staff_view(allowed=STAFF, **{ADMIN_2FA: HOME, PASSWORD_ONLY: VERIFY}),
        staff_view("POST", allowed=STAFF, ok=422, data={"code": ""}, **{ADMIN_2FA: HOME, PASSWORD_ONLY: VERIFY}),
    ],
    "two_factor_verify": [
        staff_view(allowed=STAFF, ok=SETUP, **{ADMIN_2FA: HOME, PASSWORD_ONLY: 200}),
        staff_view("POST", allowed=STAFF, ok=SETUP, data={"code": ""}, **{ADMIN_2FA: HOME, PASSWORD_ONLY: 422}),
    ],
    "user_list": [
        staff_view(allowed=EVERY_ROLE),
        staff_view(allowed=EVERY_ROLE, htmx_target="user-results"),
    ],
    "user_detail": [
        staff_view(allowed=EVERY_ROLE),
        staff_view(allowed=EVERY_ROLE, htmx_target="profile-tabs"),
    ],
    "user_payments": [
        staff_view(allowed=EVERY_ROLE),
        staff_view(allowed=EVERY_ROLE, htmx_target="profile-tabs"),
        staff_view(allowed=EVERY_ROLE, htmx_target="payment-info"),
        staff_view(allowed=EVERY_ROLE, htmx_target="past-payments"),
    ],
    "user_activity": [
        staff_view(allowed=EVERY_ROLE),
        staff_view(allowed=EVERY_ROLE, htmx_target="profile-tabs"),
        staff_view(allowed=EVERY_ROLE, htmx_target="credit-history"),
    ],
    "credit_history_recent": [staff_view(allowed=EVERY_ROLE, htmx_target="credit-history-recent")],
    "credits_edit": [
        staff_view(allowed=EVERY_ROLE, **GET_REFUSED),
        staff_view("POST", allowed=EVERY_ROLE, htmx_target="payment-info", data=CREDITS_CHANGE),
    ],
    "refund_create": [
        staff_view(allowed=REFUNDERS),
        staff_view(allowed=REFUNDERS, htmx_target="modal"),
        # An empty form: refused as invalid (422) once past the access checks; nothing is refunded.
        staff_view("POST", allowed=REFUNDERS, ok=422, htmx_target="refund-panel"),
    ],
    "refund_list": [
        staff_view(allowed=EVERY_ROLE),
        staff_view(allowed=EVERY_ROLE, htmx_target="refund-list"),
    ],
    "approvals": [staff_view(allowed=REFUNDERS)],
    # A refund that is not waiting for approval: refused (422) once past the access checks.
    "refund_approve": [
        staff_view(allowed=REFUNDERS, **GET_REFUSED),
        staff_view("POST", allowed=REFUNDERS, ok=422, htmx_target="approval-row"),
    ],
    "refund_reject": [
        staff_view(allowed=REFUNDERS, **GET_REFUSED),
        staff_view("POST", allowed=REFUNDERS, ok=422, htmx_target="approval-row", data={"reason": "No."}),
    ],
    "audit_log": [staff_view(allowed={ADMIN_STAFF})],
    "books": [staff_view(allowed=REFUNDERS)],
    "audit_export": [staff_view(allowed={ADMIN_STAFF})],
    "staff_list": [
        staff_view(allowed={ADMIN_STAFF}),
        # An invalid change (no such role): refused (422) once past the access checks.
        staff_view("POST", allowed={ADMIN_STAFF}, ok=422, data={"member": "1", "role": "Emperor"}),
    ],
    # Webhooks: no login, no CSRF token, only a valid signature (none here) gets anywhere.
    "twilio_sms_status": [everyone("GET", answer=405), everyone("POST", answer=403, data={"MessageStatus": "sent"})],
    "stripe_webhook": [everyone("GET", answer=405), everyone("POST", answer=400)],
    # Health checks: public, and no customer data (no queue worker runs here: /healthz says so).
    "healthz": [everyone(answer=503)],
    "readyz": [everyone()],
}


def url_patterns(patterns=None, prefix: str = ""):
    """Every URL pattern of the project, included ones too: (key, route, pattern)."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from url_patterns(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            yield entry.name or "/" + route, route, entry


def test_every_url_is_in_the_matrix():
    in_project = {key for key, _, _ in url_patterns()}
    assert in_project - MATRIX.keys() == set(), "URLs with no row in MATRIX (say who may see them)"
    assert MATRIX.keys() - in_project == set(), "rows in MATRIX for URLs that no longer exist"


def test_every_row_says_what_each_visitor_gets():
    for key, probes in MATRIX.items():
        for probe in probes:
            assert set(probe.expect) == set(VISITORS), (key, probe.label())


@pytest.fixture
def world(db):
    """Who asks, and what there is to ask about."""
    payment = PaymentFactory()
    customer = payment.user
    people = {CUSTOMER: customer_with_password()}
    for visitor, role in STAFF_ROLES.items():
        people[visitor] = staff_with_role(role, email=f"{visitor}@statstak.test")
    people[ADMIN_2FA] = staff_with_role(ADMINISTRATOR, email="admin-2fa@statstak.test")
    people[PASSWORD_ONLY] = staff_with_role(ADMINISTRATOR, email="admin-password-only@statstak.test")
    refund = Refund.objects.create(
        requested_by=people[FINANCE_STAFF],
        payment=payment,
        type=Refund.Type.PARTIAL,
        reason=Refund.Reason.DUPLICATE,
        amount=100,
        currency=payment.currency,
        status=Refund.Status.SUCCEEDED,
        idempotency_key="matrix-refund",
    )
    Payment.objects.filter(pk=payment.pk).update(amount_refunded=100, status=Payment.Status.PARTIALLY_REFUNDED)
    devices = {visitor: totp_device_confirmed(people[visitor]) for visitor in (ADMIN_2FA, PASSWORD_ONLY)}
    url_kwargs = {
        "pk": customer.pk,
        "payment_pk": payment.pk,
        "message_id": SmsMessageFactory(user=customer).pk,
        "refund_pk": refund.pk,
    }
    return {"people": people, "devices": devices, "customer": customer, "url_kwargs": url_kwargs}


def customer_with_password():
    from tests.factories import STAFF_PASSWORD, CustomerFactory

    customer = CustomerFactory(email="customer-with-password@example.com")
    customer.set_password(STAFF_PASSWORD)
    customer.save()
    return customer


def client_for(visitor: str, world: dict) -> Client:
    client = Client()
    if visitor == ANONYMOUS:
        return client
    client.force_login(world["people"][visitor])
    if visitor == ADMIN_2FA:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = world["devices"][visitor].persistent_id
        session.save()
    return client


def answer_matches(response, expected) -> bool:
    if isinstance(expected, Redirect):
        return response.status_code == 302 and response["Location"].startswith(expected.to)
    return response.status_code == expected


def answer_text(response) -> str:
    if response.status_code in (301, 302):
        return f"302→{response['Location']}"
    return str(response.status_code)


def probe_cases():
    for key, probes in MATRIX.items():
        for probe in probes:
            yield pytest.param(key, probe, id=f"{key} {probe.label()}")


@pytest.mark.parametrize(("key", "probe"), list(probe_cases()))
def test_each_visitor_gets_what_the_matrix_says(key, probe, world):
    routes = {k: route for k, route, _ in url_patterns()}
    if key not in routes:
        pytest.fail(f"{key} is in MATRIX but not in the URLs")
    names = re.findall(r"<(?:\w+:)?(\w+)>", routes[key])
    url = "/" if key == "/" else reverse(key, kwargs={name: world["url_kwargs"][name] for name in names})
    headers = {"HX-Request": "true", "HX-Target": probe.htmx_target} if probe.htmx_target else {}

    mismatches = []
    for visitor in VISITORS:
        client = client_for(visitor, world)
        world["customer"].refresh_from_db()
        credits = world["customer"].credits
        data = {
            name: str(value).format(customer_credits=credits, customer_credits_plus_one=credits + 1)
            for name, value in probe.data.items()
        }
        with override_settings(STATSTAK_REQUIRE_2FA=visitor in (ADMIN_2FA, PASSWORD_ONLY)):
            if probe.method == "GET":
                response = client.get(url, headers=headers)
            else:
                response = client.post(url, data, headers=headers)
        expected = probe.expect[visitor]
        if not answer_matches(response, expected):
            mismatches.append(f"{visitor}: expected {expected!r}, got {answer_text(response)}")
    assert mismatches == [], f"{probe.method} {url}"
