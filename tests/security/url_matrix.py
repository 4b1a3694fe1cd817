"""The portal's access policy as data: every URL, the requests to make, and what each kind of
visitor gets. `test_permission_matrix.py` asks them all and fails on a URL with no row here;
`test_csrf.py` checks every write listed here. To add a page: add a row to `MATRIX` (its URL
name → the requests to make and, for each visitor, the answer expected).

Visitors: nobody logged in; a customer's account (customers have no business here); staff with
no role; Support, Finance and Administrator; an Administrator whose session passed the second
factor while 2FA is required; and an Administrator whose session passed only the password while
2FA is required (reaches no page and no partial).
"""

from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver

from accounts.roles import ADMINISTRATOR, FINANCE, SUPPORT

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
    # Staff notes: every role may add one; an empty note is refused (422) once past the access checks.
    "customer_note_create": [
        staff_view(allowed=EVERY_ROLE, **GET_REFUSED),
        staff_view("POST", allowed=EVERY_ROLE, ok=422, htmx_target="customer-notes", data={"text": ""}),
    ],
    # Erasure of a customer's personal data: Administrators only; an empty confirmation is
    # refused (422) once past the access checks, and nothing is erased.
    "customer_erase": [
        staff_view(allowed={ADMIN_STAFF}),
        staff_view("POST", allowed={ADMIN_STAFF}, ok=422, data={"confirm_email": ""}),
    ],
    "user_payments": [
        staff_view(allowed=EVERY_ROLE),
        staff_view(allowed=EVERY_ROLE, htmx_target="profile-tabs"),
    ],
    # Regions of a tab that HTMX swaps on their own: who may see the tab may see them.
    "payment_info": [staff_view(allowed=EVERY_ROLE, htmx_target="payment-info")],
    "past_payments": [staff_view(allowed=EVERY_ROLE, htmx_target="past-payments")],
    "user_activity": [
        staff_view(allowed=EVERY_ROLE),
        staff_view(allowed=EVERY_ROLE, htmx_target="profile-tabs"),
    ],
    "credit_history": [staff_view(allowed=EVERY_ROLE, htmx_target="credit-history")],
    "user_timeline": [staff_view(allowed=EVERY_ROLE, htmx_target="timeline")],
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
    # The refund dialog's preview of consequences, for the values being typed (nothing written).
    "refund_preview": [staff_view(allowed=REFUNDERS, htmx_target="refund-preview")],
    # A refund's text message as it stands (the result polls it): who may see the payment may see it.
    "refund_sms_status": [staff_view(allowed=EVERY_ROLE, htmx_target="refund-sms")],
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
    # A credit change already decided: refused (422) once past the access checks.
    "credit_change_approve": [
        staff_view(allowed=REFUNDERS, **GET_REFUSED),
        staff_view("POST", allowed=REFUNDERS, ok=422, htmx_target="credit-change-row"),
    ],
    "credit_change_reject": [
        staff_view(allowed=REFUNDERS, **GET_REFUSED),
        staff_view("POST", allowed=REFUNDERS, ok=422, htmx_target="credit-change-row", data={"reason": "No."}),
    ],
    # Every customer's refunds, and their CSV: Finance and Administrators.
    "refunds_all": [staff_view(allowed=REFUNDERS)],
    "refunds_export": [staff_view(allowed=REFUNDERS)],
    # Bulk credits from a CSV file: Finance and Administrators. A POST with no file: the form again
    # (422); the batch is one already applied, so applying it again is refused (422).
    "credit_batches": [
        staff_view(allowed=REFUNDERS),
        staff_view("POST", allowed=REFUNDERS, ok=422),
    ],
    "credit_batch_detail": [staff_view(allowed=REFUNDERS)],
    "credit_batch_apply": [
        staff_view(allowed=REFUNDERS, **GET_REFUSED),
        staff_view("POST", allowed=REFUNDERS, ok=422, htmx_target="batch-progress"),
    ],
    "credit_batch_progress": [staff_view(allowed=REFUNDERS, htmx_target="batch-progress")],
    "credit_batch_result": [staff_view(allowed=REFUNDERS)],
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
    # Health checks: public, and no customer data.
    "healthz": [everyone(answer=503)],  # no queue worker runs here: /healthz says so
    "readyz": [everyone()],
    # Prometheus' endpoint: no such page without METRICS_TOKEN (as here), whoever asks; a session is never a
    # token (tests/test_metrics_endpoint.py asks it with a token set).
    "metrics": [everyone(answer=404)],
}


def url_patterns(patterns=None, prefix: str = ""):
    """Every URL pattern of the project, included ones too: (key, route, pattern)."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from url_patterns(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            yield entry.name or "/" + route, route, entry
