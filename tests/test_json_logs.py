"""LOG_FORMAT=json: one JSON object per line, saying where each line was written (request id, view,
staff member, duration), through the same masking as the plain format; and a request's id carried
into the text-message job it queues, so the worker's lines name the request that caused them.

(The log-secrecy flows of tests/security/test_logs_keep_secrets_out.py run in this format too.)
"""

import io
import json
import logging
from datetime import datetime

import pytest
from django.urls import reverse
from procrastinate.contrib.django.models import ProcrastinateJob

from accounts.roles import FINANCE
from core.correlation import correlation_id_sane
from core.log_format import JsonLogFormatter
from core.log_masking import PhoneNumberMaskingFilter
from notifications.models import SmsMessage
from tests.factories import CustomerFactory, PaymentFactory
from tests.helpers import SEND_TASK
from tests.people import staff_with_role

PHONE = "+12025550143"
REQUEST_ID = "req-json-0123456789"


@pytest.fixture
def json_logs():
    """What the configured root handler writes (its masking filter on), in the JSON format, at INFO."""
    root = logging.getLogger()
    (handler,) = [h for h in root.handlers if any(isinstance(f, PhoneNumberMaskingFilter) for f in h.filters)]
    stream = io.StringIO()
    old_stream, old_formatter, old_level = handler.setStream(stream), handler.formatter, root.level
    handler.setFormatter(JsonLogFormatter())
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        handler.setStream(old_stream)
        handler.setFormatter(old_formatter)
        root.setLevel(old_level)


@pytest.mark.django_db
def test_a_request_line_says_when_what_who_and_how_long(staff_client, staff, json_logs):
    response = staff_client.get(reverse("user_list"), {"q": "maria"}, headers={"X-Request-ID": REQUEST_ID})

    assert response.status_code == 200
    [line] = [entry for entry in json_logs() if entry["logger"] == "statstak.request"]
    assert line["level"] == "INFO"
    assert line["time"].endswith("Z") and datetime.fromisoformat(line["time"])
    assert line["request_id"] == REQUEST_ID == response["X-Request-ID"]
    assert line["view"] == "user_list"
    assert line["staff_id"] == str(staff.pk)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert (line["method"], line["path"], line["status"]) == ("GET", "/users/", 200)
    assert "maria" not in json.dumps(line)  # the query string is never logged


@pytest.mark.django_db
def test_a_line_written_inside_a_view_carries_its_request_and_view(client, settings, json_logs):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_json_logs"
    client.post(reverse("stripe_webhook"), "{}", content_type="application/json", headers={"X-Request-ID": REQUEST_ID})

    [refused] = [entry for entry in json_logs() if "Stripe webhook refused" in entry["message"]]
    assert refused["level"] == "WARNING"
    assert refused["request_id"] == REQUEST_ID
    assert refused["view"] == "stripe_webhook"
    assert refused["staff_id"] is None
    assert refused["duration_ms"] is None  # only the request's own line has one


def test_a_line_outside_any_request_has_no_request_fields_and_masks_numbers_in_exceptions(json_logs):
    logger = logging.getLogger("tests.json_logs")
    try:
        raise ValueError(f"Twilio refused {PHONE}")
    except ValueError:
        logger.exception("sending to %s failed", PHONE)

    [line] = json_logs()
    assert (line["request_id"], line["view"], line["staff_id"]) == (None, None, None)
    assert line["message"] == "sending to +1202•••0143 failed"
    assert "ValueError: Twilio refused +1202•••0143" in line["exception"]
    assert PHONE not in json.dumps(line)


@pytest.mark.django_db(transaction=True)
def test_the_text_a_refund_queues_is_sent_under_the_refunds_request_id(client, run_worker, json_logs):
    finance = staff_with_role(FINANCE)
    client.force_login(finance)
    customer = CustomerFactory(phone=PHONE)
    payment = PaymentFactory(user=customer)
    form = {
        "type": "partial",
        "amount": "10.00",
        "reason": "requested_by_customer",
        "note": "",
        "credits_to_remove": "0",
        "notify_customer": "on",
        "idempotency_key": "0123456789abcdef0123456789abcdef",
        "expected_reserved": "0",
    }
    refunded = client.post(
        reverse("refund_create", args=[customer.pk, payment.pk]),
        form,
        headers={"HX-Request": "true", "HX-Target": "refund-panel", "X-Request-ID": REQUEST_ID},
    )
    assert "Success!" in refunded.content.decode()
    [job] = ProcrastinateJob.objects.filter(task_name=SEND_TASK)
    assert job.args == {"message_id": SmsMessage.objects.get(user=customer).pk, "correlation_id": REQUEST_ID}

    run_worker()

    assert SmsMessage.objects.get(user=customer).status == SmsMessage.Status.SENT
    lines = json_logs()
    [sent] = [entry for entry in lines if entry["logger"] == "notifications.sending" and "sent" in entry["message"]]
    assert sent["request_id"] == REQUEST_ID
    assert sent["view"] is None  # a job, not a view


def test_a_job_with_no_or_an_insane_request_id_runs_under_a_fresh_one():
    from core.correlation import correlation_id, correlation_scope

    for carried in ("", "bad id with spaces", "x" * 200):
        with correlation_scope(carried):
            assert correlation_id() != carried
            assert correlation_id_sane(correlation_id())
    assert correlation_id() == ""
