"""The send job, run by a real worker, through the real Twilio SDK against a local server."""

import base64
import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from procrastinate.contrib.django import app

from notifications import tasks
from notifications.models import SmsMessage
from notifications.services import sms_notify
from tests.factories import CustomerFactory
from tests.fakes.twilio import PUBLIC_BASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER, error, hang
from tests.helpers import jobs_make_due, send_jobs

Status = SmsMessage.Status


@pytest.fixture
def message(queue) -> SmsMessage:
    customer = CustomerFactory(phone="+12025550143")
    return sms_notify(user=customer, body="Your refund of $12.00 is on its way.")


def test_the_worker_sends_it_through_twilio(twilio, message, run_worker):
    run_worker()

    [request] = twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json"
    credentials = base64.b64encode(f"{TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"
    message.refresh_from_db()
    assert request.form.to_dict() == {
        "To": "+12025550143",
        "From": TWILIO_FROM_NUMBER,
        "Body": f"Your refund of $12.00 is on its way.\nRef {message.reference}",
        "StatusCallback": f"{PUBLIC_BASE_URL}/webhooks/twilio/sms/{message.pk}/status/",
    }
    assert len(message.reference) == 6
    assert message.status == Status.SENT
    assert message.provider == "twilio"
    assert message.provider_message_id == twilio.accepted[0]["sid"]
    assert message.attempts == 1
    assert message.sent_at is not None
    assert message.last_error == ""
    assert [job.status for job in send_jobs()] == ["succeeded"]


def test_a_messaging_service_sends_it_when_configured(twilio, settings, message, run_worker):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "0" * 32
    run_worker()
    [request] = twilio.requests
    assert request.form["MessagingServiceSid"] == "MG" + "0" * 32
    assert "From" not in request.form


def test_without_a_public_address_it_asks_for_no_status_callback(twilio, settings, message, run_worker):
    settings.PUBLIC_BASE_URL = ""
    run_worker()
    [request] = twilio.requests
    assert "StatusCallback" not in request.form
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_a_timeout_is_retried_and_the_message_sent_once(twilio, settings, message, run_worker):
    # The request was lost before Twilio took it: the retry looks it up, finds nothing, sends it.
    settings.TWILIO_TIMEOUT_SECONDS = 0.3
    twilio.will_answer(hang(1.0))
    run_worker()

    assert len(twilio.requests) == 2
    assert len(twilio.list_requests) == 1
    assert len(twilio.accepted) == 1
    assert len(twilio.texts_to("+12025550143")) == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.attempts == 2
    assert message.provider_message_id == twilio.accepted[0]["sid"]
    assert [job.status for job in send_jobs()] == ["succeeded"]


def test_a_connection_refused_is_retried(twilio, settings, message, run_worker):
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # the discard port: nobody listens there
    settings.SMS_SEND_MAX_ATTEMPTS = 2
    run_worker()
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.attempts == 2
    assert "Could not reach Twilio to send (ConnectionError)" in message.last_error


def test_500s_are_retried_up_to_the_attempt_limit_then_failed(twilio, settings, message, run_worker):
    settings.SMS_SEND_MAX_ATTEMPTS = 3
    twilio.will_answer(error(500), error(503, 20500, "Internal Server Error"), error(500))
    run_worker()

    assert len(twilio.requests) == 3
    assert twilio.accepted == []
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.attempts == 3
    assert message.last_error.startswith("Gave up after 3 attempts. Last error: Twilio error 500 (HTTP 500)")
    assert message.provider_message_id == ""
    assert [job.status for job in send_jobs()] == ["succeeded"]  # the job ran its course; the message failed


def test_after_a_5xx_the_message_waits_unconfirmed_for_its_retry_with_the_reason(twilio, settings, message, run_worker):
    # Twilio may have taken it before failing: the retry looks it up before any resend.
    settings.SMS_RETRY_BACKOFF_SECONDS = 60
    twilio.will_answer(error(503, 20503, "Service Unavailable"))
    run_worker()
    message.refresh_from_db()
    assert message.status == Status.UNCONFIRMED
    assert message.attempts == 1
    assert message.last_error == "Twilio error 20503 (HTTP 503): Service Unavailable"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (21211, "The 'To' number +12025550143 is not a valid phone number."),
        (21610, "Attempt to send to unsubscribed recipient"),
    ],
)
def test_a_permanent_error_fails_at_once_without_retry(twilio, message, run_worker, caplog, code, words):
    caplog.set_level(logging.INFO)
    twilio.will_answer(error(400, code, words))
    run_worker()

    assert len(twilio.requests) == 1
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.attempts == 1
    assert message.last_error.startswith(f"Twilio error {code} (HTTP 400): ")
    assert "+12025550143" not in message.last_error
    assert [job.status for job in send_jobs()] == ["succeeded"]
    assert "+12025550143" not in caplog.text


def test_a_429_is_retried_later_with_backoff(twilio, settings, message, run_worker):
    settings.SMS_RETRY_BACKOFF_SECONDS = 30
    twilio.will_answer(error(429, 20429, "Too Many Requests"))
    before = timezone.now()
    run_worker()

    # The worker stopped: the retry is not due yet.
    assert len(twilio.requests) == 1
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert message.last_error == "Twilio error 20429 (HTTP 429): Too Many Requests"
    [job] = send_jobs()
    assert job.status == "todo"
    assert job.scheduled_at >= before + timedelta(seconds=27)  # 30 s, less at most 10% jitter

    jobs_make_due()
    run_worker()
    assert len(twilio.requests) == 2
    assert len(twilio.accepted) == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.attempts == 2
    assert message.last_error == ""


def test_the_backoff_doubles_and_is_capped(twilio, settings, message, run_worker):
    settings.SMS_RETRY_BACKOFF_SECONDS = 10
    settings.SMS_RETRY_BACKOFF_MAX_SECONDS = 25
    twilio.will_answer(error(500), error(500), error(500))
    waits = []
    for _ in range(3):
        before = timezone.now()
        run_worker()
        [job] = send_jobs()
        waits.append((job.scheduled_at - before).total_seconds())
        jobs_make_due()
    assert 9 <= waits[0] <= 11.5
    assert 18 <= waits[1] <= 22.5
    assert 22.5 <= waits[2] <= 28  # 40 s, capped at 25


def test_a_job_that_runs_twice_sends_once(twilio, message, run_worker):
    run_worker()
    [job] = send_jobs()
    # The queue hands the same job out again, as when its worker is thought dead (no heartbeat)
    # after the send: `retry_stalled_jobs` puts a job still `doing` back in the queue.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = %s", [job.id])
    app.job_manager.retry_job_by_id(job.id, timezone.now(), job.priority, job.queue_name, job.lock)
    assert [job.status for job in send_jobs()] == ["todo"]
    run_worker()

    assert len(twilio.requests) == 1
    assert [job.status for job in send_jobs()] == ["succeeded"]
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.provider_message_id == twilio.accepted[0]["sid"]
    assert message.attempts == 1


def test_two_jobs_for_the_same_message_send_it_once(twilio, message, run_worker):
    tasks.sms_send.defer(message_id=message.pk)
    run_worker()
    assert len(twilio.requests) == 1
    assert [job.status for job in send_jobs()] == ["succeeded", "succeeded"]
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_a_message_that_is_no_longer_queued_is_not_sent(twilio, message, run_worker):
    # A worker died mid-send: the outcome is unknown, and a second text is worse than none.
    SmsMessage.objects.filter(pk=message.pk).update(status=Status.SENDING, attempts=1)
    run_worker()
    assert twilio.requests == []
    message.refresh_from_db()
    assert message.status == Status.SENDING


def test_a_job_for_a_deleted_message_does_nothing(twilio, message, run_worker):
    SmsMessage.objects.filter(pk=message.pk).delete()
    run_worker()
    assert twilio.requests == []
    assert [job.status for job in send_jobs()] == ["succeeded"]


def test_the_console_backend_prints_it_and_marks_it_sent(settings, message, run_worker, capsys):
    settings.SMS_BACKEND = "console"
    settings.DEBUG = True
    run_worker()
    out = capsys.readouterr().out
    assert "SMS to +1202•••0143" in out
    assert "Your refund of $12.00 is on its way." in out
    assert "+12025550143" not in out
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.provider == "console"
    assert message.provider_message_id.startswith("console-")


def test_a_misconfigured_backend_leaves_the_message_queued_and_fails_the_job(settings, message, run_worker):
    settings.SMS_BACKEND = "carrier-pigeon"
    run_worker()
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert message.attempts == 0
    assert [job.status for job in send_jobs()] == ["failed"]
