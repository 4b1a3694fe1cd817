"""Each metric moves when its event happens, read through `/metrics` as Prometheus reads it.

What processes count (requests, gateway and SMS calls, webhook deliveries) is read before and
after the event, since other tests in this process count too; what the database holds (refunds,
messages, jobs, books checks, lockouts) is read from rows this test made. And whatever happened,
every label is one of a known few: a view's name, never a path, a customer or an address.
"""

import json
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from accounts.roles import FINANCE
from books.services import books_check_record
from notifications.models import SmsMessage
from notifications.services import sms_notify
from payments.models import Dispute
from refunds.models import Refund
from tests.factories import STAFF_PASSWORD, CustomerFactory, PaymentFactory, StaffFactory, stripe_payment
from tests.fakes.stripe import WEBHOOK_SECRET, stripe_event, stripe_refund, stripe_signature
from tests.fakes.twilio import PUBLIC_BASE_URL, TWILIO_AUTH_TOKEN, error
from tests.helpers import METRICS_TOKEN, metric, metric_total, metrics_scrape, refund_request


@pytest.fixture(autouse=True)
def token_set(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN


@pytest.fixture
def refunder(db):
    return StaffFactory(roles=[FINANCE], passwordless=True)


def requests_counted(samples, view: str, status: str = "2xx", method: str = "GET") -> float:
    return metric(samples, "statstak_http_request_duration_seconds_count", view=view, method=method, status=status)


@pytest.mark.django_db
def test_requests_are_counted_per_view_not_per_path(client, staff_client, staff):
    customers = CustomerFactory.create_batch(2)
    before = metrics_scrape(client)

    for customer in customers:
        assert staff_client.get(reverse("user_detail", args=[customer.pk])).status_code == 200
    assert client.get(f"/no-such-page/{customers[0].email}/").status_code == 404

    after = metrics_scrape(client)
    assert requests_counted(after, "user_detail") == requests_counted(before, "user_detail") + 2
    assert requests_counted(after, "unmatched", "4xx") == requests_counted(before, "unmatched", "4xx") + 1
    labels = {"view": "user_detail", "method": "GET", "status": "2xx", "le": "+Inf"}
    bucket = metric(after, "statstak_http_request_duration_seconds_bucket", **labels)
    assert bucket == requests_counted(after, "user_detail")


@pytest.mark.django_db(transaction=True)
def test_a_refund_moves_the_refund_counts_and_times_the_gateway_call(client, refunder):
    payment = PaymentFactory()
    before = metrics_scrape(client)

    refund = refund_request(payment, actor=refunder, amount=2500)

    assert refund.status == Refund.Status.SUCCEEDED
    after = metrics_scrape(client)
    assert metric(after, "statstak_refunds", type="partial", status="succeeded") == 1
    assert metric(after, "statstak_refunds_last_day", gateway="sandbox") == 1
    calls = {"service": "sandbox", "operation": "refund_create", "outcome": "ok"}
    assert metric(after, "statstak_external_call_duration_seconds_count", **calls) == (
        metric(before, "statstak_external_call_duration_seconds_count", **calls) + 1
    )


@pytest.mark.django_db(transaction=True)
def test_a_refund_stripe_does_not_answer_is_pending_with_its_age_and_the_error_counted(client, stripe_api, refunder):
    payment = stripe_payment()
    stripe_api.faults = ["503"]
    before = metrics_scrape(client)

    refund = refund_request(payment, actor=refunder, amount=2500)

    assert refund.status == Refund.Status.PENDING
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(hours=2))
    after = metrics_scrape(client)
    assert metric(after, "statstak_refunds_unsettled", status="pending") == 1
    assert metric(after, "statstak_refund_unsettled_oldest_age_seconds", status="pending") > 3600
    errors = {"service": "stripe", "operation": "refund_create", "kind": "unavailable"}
    assert metric_total(after, "statstak_external_call_errors_total", **errors) == (
        metric_total(before, "statstak_external_call_errors_total", **errors) + 1
    )
    assert metric(after, "statstak_external_call_errors_total", **errors, cause="APIError") >= 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_message_is_counted_with_the_provider_error(client, twilio, run_worker):
    twilio.will_answer(error(400, 21211, "The 'To' number +12025550143 is not a valid phone number."))
    before = metrics_scrape(client)

    message = sms_notify(user=CustomerFactory(), body="Your refund is on its way.")
    queued = metrics_scrape(client)
    run_worker()

    message.refresh_from_db()
    assert message.status == SmsMessage.Status.FAILED
    assert metric(queued, "statstak_sms_messages", status="queued") == 1
    assert metric(queued, "statstak_queue_jobs", queue="sms", status="todo") == 1
    assert metric(queued, "statstak_sms_oldest_age_seconds", status="queued") >= 0
    after = metrics_scrape(client)
    assert metric(after, "statstak_sms_messages", status="failed") == 1
    assert metric(after, "statstak_sms_messages", status="queued") == 0
    labels = {"service": "twilio", "operation": "message_create", "kind": "permanent", "cause": "TwilioRestException"}
    assert metric(after, "statstak_external_call_errors_total", **labels) == (
        metric(before, "statstak_external_call_errors_total", **labels) + 1
    )


@pytest.mark.django_db
def test_webhook_deliveries_are_counted_by_result_and_the_last_event_is_dated(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.TWILIO_AUTH_TOKEN = TWILIO_AUTH_TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    payment = stripe_payment()
    before = metrics_scrape(client)
    assert metric(before, "statstak_gateway_last_event_timestamp_seconds", gateway="stripe") == 0

    refund = stripe_refund("re_Metrics1", payment, status="succeeded", amount=500)
    event = json.dumps(stripe_event("refund.created", refund))
    signed = {"Stripe-Signature": stripe_signature(event)}
    forged = {"Stripe-Signature": stripe_signature(event, secret="whsec_forger")}
    webhook = reverse("stripe_webhook")
    assert client.post(webhook, event, content_type="application/json", headers=signed).status_code == 200
    assert client.post(webhook, event, content_type="application/json", headers=forged).status_code == 400
    message = SmsMessage.objects.create(user=payment.user, to="+12025550143", body="x", status="sent")
    path = reverse("twilio_sms_status", args=[message.pk])
    params = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "delivered"}
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + path, params)
    form = "application/x-www-form-urlencoded"
    posted = client.post(path, urlencode(params), content_type=form, headers={"X-Twilio-Signature": signature})
    assert posted.status_code == 200

    after = metrics_scrape(client)
    for source, result, more in (("stripe", "accepted", 1), ("stripe", "refused", 1), ("twilio", "accepted", 1)):
        labels = {"source": source, "result": result}
        assert metric(after, "statstak_webhook_deliveries_total", **labels) == (
            metric(before, "statstak_webhook_deliveries_total", **labels) + more
        ), labels
    now = timezone.now().timestamp()
    last = metric(after, "statstak_webhook_last_received_timestamp_seconds", source="stripe", type="refund.created")
    assert now - 60 < last <= now + 1
    assert metric(after, "statstak_gateway_last_event_timestamp_seconds", gateway="stripe") == last
    twilio = {"source": "twilio", "type": "message_status"}
    twilio_last = metric(after, "statstak_webhook_last_received_timestamp_seconds", **twilio)
    assert now - 60 < twilio_last <= now + 1


@pytest.mark.django_db(transaction=True)
def test_approvals_disputes_books_checks_and_lockouts_are_read_from_the_database(client, settings, refunder):
    settings.REFUND_APPROVAL_THRESHOLD = 1000
    refund = refund_request(PaymentFactory(), actor=refunder, amount=5000)
    assert refund.status == Refund.Status.AWAITING_APPROVAL
    books_check_record()
    staff = StaffFactory()
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        Client().post("/login/", {"username": staff.email, "password": "not " + STAFF_PASSWORD})

    Dispute.objects.create(
        payment=PaymentFactory(),
        gateway_dispute_id="du_Metrics1",
        amount=1000,
        currency="USD",
        status=Dispute.Status.NEEDS_RESPONSE,
        evidence_due_at=timezone.now() + timedelta(days=1),
        reported_at=timezone.now(),
    )

    after = metrics_scrape(client)
    assert metric(after, "statstak_disputes_open", status="needs_response") == 1
    assert 0 < metric(after, "statstak_dispute_evidence_due_in_seconds") <= 86400
    assert metric(after, "statstak_approvals_waiting", kind="refund") == 1
    assert metric(after, "statstak_approval_oldest_age_seconds", kind="refund") >= 0
    assert metric(after, "statstak_books_check_last_run_timestamp_seconds") > timezone.now().timestamp() - 60
    assert metric(after, "statstak_books_check_offenders") == 0
    assert metric(after, "statstak_login_lockouts_active") == 1
    assert metric(after, "statstak_auth_events_last_hour", event="login_failed") >= settings.LOGIN_FAILURE_LIMIT - 1
    assert metric(after, "statstak_queue_workers") == 0


# Labels a scrape may carry, and no others.
LABELS = {
    "view",
    "method",
    "status",
    "service",
    "operation",
    "outcome",
    "kind",
    "cause",
    "source",
    "result",
    "type",
    "gateway",
    "queue",
    "rule",
    "event",
    "le",
}
PERSONAL = re.compile(r"@|\+\d{6,}|^\d+$|/")


def url_names() -> set[str]:
    names = set()

    def walk(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(namespace + pattern.name)

    walk(get_resolver().url_patterns)
    return names


@pytest.mark.django_db
def test_labels_stay_few_and_carry_no_customer_whatever_is_asked(client, staff_client):
    customers = CustomerFactory.create_batch(3)
    staff_client.get("/")  # the root's redirect has no URL name
    for customer in customers:
        staff_client.get(reverse("user_detail", args=[customer.pk]))
        staff_client.get(f"/users/{customer.pk}/nothing-here/{customer.email}")
        client.get(f"/{customer.phone}/", headers={"X-Request-ID": customer.email})
    for method in ("PROPFIND", "BREW", "get"):
        client.generic(method, f"/users/{customers[0].pk}/")

    samples = metrics_scrape(client)

    ours = [(name, labels) for name, labels in samples if name.startswith("statstak_")]
    assert len(ours) > 50  # else the checks below would pass on nothing
    views = set()
    for name, labels in ours:
        for key, value in labels:
            assert key in LABELS, (name, key, value)
            if key != "le":
                assert not PERSONAL.search(value), (name, key, value)
            if key == "view":
                views.add(value)
            if key == "method":
                assert value in {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
    assert "user_detail" in views
    assert "unnamed" in views
    assert views <= url_names() | {"unmatched", "unnamed"}
