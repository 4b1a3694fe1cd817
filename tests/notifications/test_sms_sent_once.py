"""Each text reaches the customer once, as far as Twilio allows: the real Twilio SDK against the
strict fake, where an answer can be lost after Twilio took the message.

"Texts the customer got" is counted at the fake (`twilio.texts_to`): what Twilio holds, answered
or not.
"""

import logging
from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone
from procrastinate.contrib.django import app
from twilio.rest import Client

from accounts.roles import FINANCE
from audit.models import AuditEvent
from books.checks import books_verify
from notifications import sending, sms, tasks
from notifications.models import SmsMessage
from notifications.services import SMS_BODY_MAX_LENGTH, sms_notify, sms_status_record
from refunds.models import Refund
from tests.factories import CustomerFactory, PaymentFactory, StaffFactory, purchase_record
from tests.fakes.twilio import (
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    accept_then_error,
    accept_then_hang,
    accept_then_reset,
    accept_with_status,
    error,
)
from tests.helpers import jobs_make_due, queue_clear, refund_request, send_jobs

Status = SmsMessage.Status
PHONE = "+12025550143"


class WorkerKilled(BaseException):
    """The worker process is killed mid-send: not an Exception, so no handler of the send job runs."""


class KilledMidSend:
    """The configured backend, in a worker that is killed before (or just after) its request reaches Twilio."""

    def __init__(self, backend: sms.SmsBackend, *, after_reaching_twilio: bool) -> None:
        self.backend = backend
        self.name = backend.name
        self.after_reaching_twilio = after_reaching_twilio

    def send(self, **kwargs) -> str:
        if self.after_reaching_twilio:
            self.backend.send(**kwargs)
        raise WorkerKilled

    def find(self, **kwargs):
        return self.backend.find(**kwargs)


@pytest.fixture
def message(queue) -> SmsMessage:
    return sms_notify(user=CustomerFactory(phone=PHONE), body="Your refund of $12.00 is on its way.")


@pytest.fixture
def short_timeout(settings):
    settings.TWILIO_TIMEOUT_SECONDS = 0.3


def test_accepted_then_timed_out_the_customer_gets_exactly_one_text(twilio, short_timeout, message, run_worker):
    twilio.will_answer(accept_then_hang(1.0))
    run_worker()

    # One text at Twilio, though the first answer was lost: the retry looked it up and adopted it.
    [text] = twilio.texts_to(PHONE)
    assert len(twilio.requests) == 1
    assert len(twilio.list_requests) == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.provider_message_id == text["sid"]
    assert text["body"] == f"Your refund of $12.00 is on its way.\nRef {message.reference}"
    assert message.attempts == 2
    assert message.provider_duplicate_ids == []
    assert [job.status for job in send_jobs()] == ["succeeded"]


def test_accepted_then_connection_reset_the_customer_gets_exactly_one_text(twilio, message, run_worker):
    twilio.will_answer(accept_then_reset())
    run_worker()

    [text] = twilio.texts_to(PHONE)
    assert len(twilio.requests) == 1
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (Status.SENT, text["sid"])


def test_an_unknown_outcome_leaves_the_message_unconfirmed_until_looked_up(
    twilio, short_timeout, settings, message, run_worker
):
    settings.SMS_RETRY_BACKOFF_SECONDS = 60
    twilio.will_answer(accept_then_hang(1.0))
    run_worker()

    message.refresh_from_db()
    assert message.status == Status.UNCONFIRMED
    assert message.last_error == "Twilio did not answer in time (send)."
    assert twilio.list_requests == []  # not yet: the lookup is the retry's first step
    jobs_make_due()
    run_worker()
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(twilio.texts_to(PHONE)) == 1


def test_a_5xx_after_twilio_took_it_is_looked_up_not_resent(twilio, message, run_worker):
    # Twilio made the message before its 500: the retry finds it by its reference.
    twilio.will_answer(accept_then_error(500, 20500, "Internal Server Error"))
    run_worker()
    [text] = twilio.texts_to(PHONE)
    assert len(twilio.requests) == 1
    assert len(twilio.list_requests) == 1
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (Status.SENT, text["sid"])


def test_a_5xx_before_twilio_took_it_is_looked_up_then_sent_once(twilio, message, run_worker):
    twilio.will_answer(error(500))  # nothing taken: the lookup finds nothing, one resend
    run_worker()
    [text] = twilio.texts_to(PHONE)
    assert len(twilio.requests) == 2
    assert len(twilio.list_requests) == 1
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (Status.SENT, text["sid"])


def test_a_message_twilio_still_holds_queued_is_found_though_it_has_no_date_sent(
    twilio, short_timeout, message, run_worker
):
    twilio.hold_queued = True
    twilio.will_answer(accept_then_hang(1.0))
    run_worker()

    [text] = twilio.texts_to(PHONE)
    assert text["status"] == "queued" and text["date_sent"] is None
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (Status.SENT, text["sid"])
    # A DateSent filter, as Twilio applies it, would have missed it, and sent a second text.
    client = Client(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, http_client=sms.sms_backend().client.http_client)
    today = timezone.now() - timedelta(days=1)
    assert client.messages.list(to=PHONE, date_sent_after=today) == []
    assert [found.sid for found in client.messages.list(to=PHONE)] == [text["sid"]]


def test_a_failed_lookup_sends_nothing_and_is_tried_again(twilio, short_timeout, settings, message, run_worker):
    settings.SMS_RETRY_BACKOFF_SECONDS = 60
    twilio.will_answer(accept_then_hang(1.0))
    twilio.will_answer_lists(error(503, 20503, "Service Unavailable"))
    run_worker()
    jobs_make_due()
    run_worker()

    message.refresh_from_db()
    assert message.status == Status.UNCONFIRMED
    assert message.last_error == "Could not look it up at Twilio: Twilio error 20503 (HTTP 503): Service Unavailable"
    assert len(twilio.requests) == 1  # no resend without a lookup
    jobs_make_due()
    run_worker()
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(twilio.texts_to(PHONE)) == 1


def kill_mid_send(message: SmsMessage, *, after_reaching_twilio: bool) -> None:
    """A worker takes the message and is killed during its call to Twilio, then time passes.

    The dead worker's job is run again by the queue's stalled-job retry, which finds the message
    `sending` and does nothing (test_sms_stalled_job.py): the queue is emptied to stand for that.
    """
    backend = KilledMidSend(sms.sms_backend(), after_reaching_twilio=after_reaching_twilio)
    with mock.patch.object(sending.sms, "sms_backend", return_value=backend), pytest.raises(WorkerKilled):
        sending.sms_send(message_id=message.pk)
    queue_clear()
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (Status.SENDING, "")
    SmsMessage.objects.filter(pk=message.pk).update(status_changed_at=timezone.now() - timedelta(minutes=10))


def test_killed_mid_send_before_reaching_twilio_it_is_sent_once(twilio, message, run_worker):
    kill_mid_send(message, after_reaching_twilio=False)
    assert twilio.texts_to(PHONE) == []

    tasks.sms_stalled_recover(timestamp=0)
    message.refresh_from_db()
    assert message.status == Status.UNCONFIRMED
    run_worker()

    [text] = twilio.texts_to(PHONE)
    assert len(twilio.list_requests) == 1
    message.refresh_from_db()
    assert (message.status, message.provider_message_id, message.attempts) == (Status.SENT, text["sid"], 2)


def test_killed_mid_send_after_reaching_twilio_it_is_adopted_not_resent(twilio, message, run_worker):
    kill_mid_send(message, after_reaching_twilio=True)
    [text] = twilio.texts_to(PHONE)

    tasks.sms_stalled_recover(timestamp=0)
    run_worker()

    assert twilio.texts_to(PHONE) == [text]
    assert len(twilio.requests) == 1
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (Status.SENT, text["sid"])


def test_a_message_sending_for_less_than_the_stall_age_is_left_alone(twilio, settings, message):
    settings.SMS_SENDING_STALLED_SECONDS = 300
    SmsMessage.objects.filter(pk=message.pk).update(
        status=Status.SENDING, attempts=1, status_changed_at=timezone.now() - timedelta(seconds=200)
    )
    queue_clear()
    tasks.sms_stalled_recover(timestamp=0)
    message.refresh_from_db()
    assert message.status == Status.SENDING
    assert send_jobs() == []
    SmsMessage.objects.filter(pk=message.pk).update(status_changed_at=timezone.now() - timedelta(seconds=301))
    tasks.sms_stalled_recover(timestamp=0)
    message.refresh_from_db()
    assert message.status == Status.UNCONFIRMED
    assert len(send_jobs()) == 1


def test_a_sending_message_twilio_already_named_is_not_taken_for_stalled(twilio, message):
    # A status callback adopted its id: Twilio has it, nothing to look up.
    SmsMessage.objects.filter(pk=message.pk).update(
        status=Status.SENDING, provider_message_id="SM" + "a" * 32, status_changed_at=timezone.now() - timedelta(days=1)
    )
    queue_clear()
    tasks.sms_stalled_recover(timestamp=0)
    message.refresh_from_db()
    assert message.status == Status.SENDING
    assert send_jobs() == []


def test_stalled_messages_are_looked_for_every_five_minutes():
    periodic = [
        p for p in app.periodic_registry.periodic_tasks.values() if p.task.name == "notifications.sms_stalled_recover"
    ]
    assert [p.cron for p in periodic] == ["*/5 * * * *"]
    assert periodic[0].task.queueing_lock == "sms_stalled_recover"


def test_an_id_adopted_from_a_callback_is_never_overwritten(
    twilio, short_timeout, settings, message, run_worker, caplog
):
    # Attempt 1 is taken by Twilio and its answer lost. Its status callback arrives while attempt 2
    # (a lookup that missed it, and a resend) is on its way: the callback's id stays.
    settings.SMS_RETRY_BACKOFF_SECONDS = 60
    twilio.will_answer(accept_then_hang(1.0))
    run_worker()
    [first] = twilio.texts_to(PHONE)
    twilio.messages.clear()  # Twilio's list lags: the lookup does not see it yet

    backend = sms.sms_backend()

    class CallbackOvertakes:
        name = backend.name
        find = backend.find

        def send(self, **kwargs) -> str:
            sms_status_record(message_id=message.pk, provider_message_id=first["sid"], provider_status="sent")
            return backend.send(**kwargs)

    jobs_make_due()
    with mock.patch.object(sending.sms, "sms_backend", return_value=CallbackOvertakes()):
        run_worker()

    message.refresh_from_db()
    [second] = twilio.messages
    assert message.provider_message_id == first["sid"]
    assert message.provider_duplicate_ids == [second["sid"]]
    assert message.told_twice
    assert "the customer was texted twice" in caplog.text


def test_a_callback_for_an_adopted_message_does_not_resend_it(twilio, short_timeout, settings, message, run_worker):
    settings.SMS_RETRY_BACKOFF_SECONDS = 60
    twilio.will_answer(accept_then_hang(1.0))
    run_worker()
    [text] = twilio.texts_to(PHONE)
    sms_status_record(message_id=message.pk, provider_message_id=text["sid"], provider_status="delivered")
    jobs_make_due()
    run_worker()

    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (Status.DELIVERED, text["sid"])
    assert len(twilio.requests) == 1
    assert twilio.list_requests == []  # nothing to look up: Twilio named it


def test_a_duplicate_found_by_a_lookup_is_flagged_and_the_books_see_it(twilio, queue, run_worker):
    payment = PaymentFactory(user=CustomerFactory(phone=PHONE))
    purchase_record(payment)
    refund = refund_request(payment, actor=StaffFactory(roles=[FINANCE]))
    assert refund.status == Refund.Status.SUCCEEDED
    [message] = SmsMessage.objects.all()
    # Two texts of it at Twilio already (say, two workers before this release): both carry its reference.
    SmsMessage.objects.filter(pk=message.pk).update(status=Status.UNCONFIRMED, reference="K7QX2M", attempts=2)
    for _ in range(2):
        sms.sms_backend().send(to=PHONE, body=f"{message.body}\nRef K7QX2M", status_callback=None)
    first, second = twilio.texts_to(PHONE)
    assert not [o for o in books_verify().offenders if o.rule == "messages"]  # else the check below proves nothing

    run_worker()

    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.provider_message_id == first["sid"]
    assert message.provider_duplicate_ids == [second["sid"]]
    assert len(twilio.texts_to(PHONE)) == 2  # nothing more sent
    [offender] = [o for o in books_verify().offenders if o.rule == "messages"]
    assert (offender.object, offender.id) == ("refund", refund.pk)
    assert offender.detail == "1 messages, 1 more texts at the provider"
    [event] = AuditEvent.objects.filter(action="sms_told_twice")
    assert (event.actor_label, event.about_id) == ("Twilio", message.pk)
    assert event.after == {"provider_duplicate_ids": [second["sid"]], "found_by": "lookup"}


def test_401_leaves_messages_waiting_and_health_says_so(twilio, settings, queue, run_worker, client):
    settings.SMS_SEND_MAX_ATTEMPTS = 1  # a refusal of our credentials must not use up any
    customers = CustomerFactory.create_batch(3)
    messages = [sms_notify(user=customer, body="Your refund is on its way.") for customer in customers]
    settings.TWILIO_AUTH_TOKEN = "a-rotated-token"
    before = timezone.now()
    run_worker()

    assert twilio.messages == []
    for message in messages:
        message.refresh_from_db()
        assert (message.status, message.attempts, message.error_code) == (Status.QUEUED, 0, "20003")
        assert message.last_error == "Waiting for the SMS settings: Twilio error 20003 (HTTP 401): Authenticate"
    jobs = send_jobs()
    assert {job.status for job in jobs} == {"todo"}
    assert all(job.scheduled_at >= before + timedelta(seconds=540) for job in jobs)  # 600 s, less 10% jitter

    with mock.patch("statstak.health.queue_check", return_value={"workers": 1}):
        health = client.get(reverse("healthz"))
    assert health.status_code == 503
    assert health.json()["checks"]["sms"] == "Twilio refused the portal's credentials (20003): 3 text messages waiting"
    assert health.json()["sms"]["waiting_for_credentials"] == 3

    settings.TWILIO_AUTH_TOKEN = TWILIO_AUTH_TOKEN  # fixed
    jobs_make_due()
    run_worker()
    assert len(twilio.messages) == 3
    for message in messages:
        message.refresh_from_db()
        assert (message.status, message.attempts, message.error_code) == (Status.SENT, 1, "")
    with mock.patch("statstak.health.queue_check", return_value={"workers": 1}):
        health = client.get(reverse("healthz"))
    assert health.status_code == 200
    assert health.json()["checks"]["sms"] == "ok"


def test_a_401_on_the_lookup_keeps_the_message_unconfirmed_and_waiting(twilio, settings, message, run_worker):
    SmsMessage.objects.filter(pk=message.pk).update(status=Status.UNCONFIRMED, attempts=1, reference="K7QX2M")
    settings.TWILIO_AUTH_TOKEN = "a-rotated-token"
    run_worker()
    message.refresh_from_db()
    assert (message.status, message.attempts, message.error_code) == (Status.UNCONFIRMED, 1, "20003")
    assert twilio.messages == []


def test_a_429_is_not_sent_and_retried_without_a_lookup(twilio, message, run_worker):
    twilio.will_answer(error(429, 20429, "Too Many Requests"))
    run_worker()
    assert len(twilio.requests) == 2
    assert twilio.list_requests == []  # Twilio refused it: nothing to look up
    assert len(twilio.texts_to(PHONE)) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SENT, 2)


def test_a_connection_refused_is_not_sent_and_retried_without_a_lookup(twilio, settings, message, run_worker):
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # the discard port: nobody listens there
    settings.SMS_RETRY_BACKOFF_SECONDS = 60
    run_worker()
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert message.last_error == "Could not reach Twilio to send (ConnectionError)."


def test_an_unsubscribed_number_fails_at_once_with_twilios_reason(twilio, message, run_worker, caplog):
    caplog.set_level(logging.INFO)
    twilio.unsubscribed.add(PHONE)
    run_worker()
    assert twilio.messages == []
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.error_code == "21610"
    assert message.last_error == "Twilio error 21610 (HTTP 400): Attempt to send to unsubscribed recipient"
    assert len(twilio.requests) == 1
    assert PHONE not in caplog.text


def test_an_invalid_number_fails_at_once_with_twilios_reason_masked(twilio, message, run_worker, caplog):
    caplog.set_level(logging.INFO)
    twilio.will_answer(error(400, 21211, f"The 'To' number {PHONE} is not a valid phone number."))
    run_worker()
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.FAILED, "21211")
    assert message.last_error == (
        "Twilio error 21211 (HTTP 400): The 'To' number +1202•••0143 is not a valid phone number."
    )
    assert PHONE not in caplog.text


def test_a_message_twilio_took_and_could_not_deliver_is_adopted_with_twilios_reason(twilio, message, run_worker):
    SmsMessage.objects.filter(pk=message.pk).update(status=Status.UNCONFIRMED, attempts=1, reference="K7QX2M")
    twilio.will_answer(accept_with_status("undelivered", 30003))
    sms.sms_backend().send(to=PHONE, body=f"{message.body}\nRef K7QX2M", status_callback=None)  # its answer lost
    run_worker()

    message.refresh_from_db()
    [text] = twilio.texts_to(PHONE)
    assert (message.status, message.provider_message_id, message.error_code) == (
        Status.UNDELIVERED,
        text["sid"],
        "30003",
    )
    assert message.last_error == "Twilio error 30003: Unreachable destination handset"


def test_the_longest_body_fits_twilios_limit_with_its_reference(twilio, queue, run_worker):
    message = sms_notify(user=CustomerFactory(phone=PHONE), body="x" * SMS_BODY_MAX_LENGTH)
    run_worker()
    [text] = twilio.texts_to(PHONE)
    assert len(text["body"]) == 1600
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_a_message_left_sending_before_references_is_found_by_its_body(twilio, message, run_worker):
    # Sent by the previous release (no reference in its text), its worker killed: the upgrade
    # finds it `sending` with no reference. Twilio holds it with exactly its body.
    SmsMessage.objects.filter(pk=message.pk).update(
        status=Status.SENDING, attempts=1, status_changed_at=timezone.now() - timedelta(minutes=10)
    )
    sms.sms_backend().send(to=PHONE, body=message.body, status_callback=None)
    [text] = twilio.texts_to(PHONE)
    queue_clear()

    tasks.sms_stalled_recover(timestamp=0)
    run_worker()

    message.refresh_from_db()
    assert (message.status, message.provider_message_id, message.reference) == (Status.SENT, text["sid"], "")
    assert twilio.texts_to(PHONE) == [text]


def test_a_message_left_sending_before_references_and_not_at_twilio_is_sent_with_one(twilio, message, run_worker):
    SmsMessage.objects.filter(pk=message.pk).update(
        status=Status.SENDING, attempts=1, status_changed_at=timezone.now() - timedelta(minutes=10)
    )
    queue_clear()
    tasks.sms_stalled_recover(timestamp=0)
    run_worker()

    message.refresh_from_db()
    [text] = twilio.texts_to(PHONE)
    assert message.status == Status.SENT
    assert text["body"] == f"{message.body}\nRef {message.reference}"


def test_a_slow_send_taken_for_stalled_is_settled_by_its_own_answer(twilio, message, run_worker):
    # The stalled-message job runs while a live worker still waits for Twilio's answer.
    backend = sms.sms_backend()

    class Slow:
        name = backend.name
        find = backend.find

        def send(self, **kwargs) -> str:
            sending.sms_stalled_recover(resend=lambda message_id: None, older_than=timedelta(0))
            return backend.send(**kwargs)

    with mock.patch.object(sending.sms, "sms_backend", return_value=Slow()):
        sending.sms_send(message_id=message.pk)
    message.refresh_from_db()
    [text] = twilio.texts_to(PHONE)
    assert (message.status, message.provider_message_id) == (Status.SENT, text["sid"])
    run_worker()  # the job the recovery deferred finds it settled: nothing more is sent
    assert twilio.texts_to(PHONE) == [text]
