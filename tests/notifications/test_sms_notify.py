"""notifications.services.sms_notify: a message and its send job, in the caller's transaction."""

import logging

import psycopg
import pytest
from django.db import transaction
from procrastinate.contrib.django import connector_params
from procrastinate.contrib.django.models import ProcrastinateJob

from notifications.models import SmsMessage
from notifications.services import sms_notify
from tests.factories import CustomerFactory, StaffFactory
from tests.helpers import SEND_TASK, send_jobs


class Rollback(Exception):
    pass


def committed_counts() -> tuple[int, int]:
    """Messages and send jobs as another connection sees them: only what was committed."""
    with psycopg.connect(**connector_params()) as other:
        messages = other.execute("SELECT count(*) FROM notifications_smsmessage").fetchone()[0]
        jobs = other.execute("SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s", [SEND_TASK]).fetchone()[0]
    return messages, jobs


@pytest.mark.django_db
def test_it_writes_a_queued_message_and_its_send_job(customer):
    message = sms_notify(user=customer, body="  Your refund of $12.00 is on its way.  ")
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.QUEUED
    assert (message.user, message.to.as_e164, message.body) == (
        customer,
        "+12025550143",
        "Your refund of $12.00 is on its way.",
    )
    assert message.attempts == 0
    [job] = send_jobs()
    assert job.status == "todo"
    assert job.queue_name == "sms"
    assert job.args == {"message_id": message.pk}


def test_a_committed_transaction_leaves_exactly_one_message_and_one_job(queue):
    customer = CustomerFactory()
    with transaction.atomic():
        sms_notify(user=customer, body="Your refund is on its way.")
    assert committed_counts() == (1, 1)


def test_a_rolled_back_transaction_leaves_neither_message_nor_job(queue):
    customer = CustomerFactory()
    with pytest.raises(Rollback), transaction.atomic():
        sms_notify(user=customer, body="Your refund is on its way.")
        assert committed_counts() == (0, 0)  # not visible before the commit either
        raise Rollback
    assert committed_counts() == (0, 0)
    assert not SmsMessage.objects.exists()
    assert not ProcrastinateJob.objects.exists()


@pytest.mark.django_db
def test_a_user_without_a_phone_gets_a_failed_message_and_no_job():
    customer = CustomerFactory(phone="")
    message = sms_notify(user=customer, body="Your refund is on its way.")
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.FAILED
    assert message.last_error == "No phone number"
    assert message.body == "Your refund is on its way."
    assert send_jobs() == []


@pytest.mark.django_db
def test_a_number_that_is_not_a_valid_e164_number_is_not_queued():
    customer = CustomerFactory(phone="+1202555")
    message = sms_notify(user=customer, body="Your refund is on its way.")
    assert message.status == SmsMessage.Status.FAILED
    assert message.last_error == "The phone number on file is not a valid number"
    assert send_jobs() == []


@pytest.mark.django_db
def test_it_links_the_message_to_what_it_is_about(customer):
    # Refunds come later; any saved model instance can be what a message is about.
    staff = StaffFactory()
    message = sms_notify(user=customer, body="About something.", about=staff)
    message = SmsMessage.objects.get(pk=message.pk)
    assert message.about == staff
    assert sms_notify(user=customer, body="About nothing.").about is None


@pytest.mark.django_db
def test_the_queue_holds_neither_the_number_nor_the_text(customer):
    sms_notify(user=customer, body="A private matter.")
    [job] = send_jobs()
    assert "+12025550143" not in str(job.args)
    assert "private" not in str(job.args)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"), [("", "needs a body"), ("   ", "needs a body"), ("x" * 1590, "at most 1589 characters")]
)
def test_it_refuses_an_empty_or_overlong_body(customer, body, message):
    with pytest.raises(ValueError, match=message):
        sms_notify(user=customer, body=body)
    assert not SmsMessage.objects.exists()
    assert send_jobs() == []


@pytest.mark.django_db
def test_it_refuses_an_unsaved_about(customer):
    with pytest.raises(ValueError, match="must be saved"):
        sms_notify(user=customer, body="Hello.", about=CustomerFactory.build())
    assert not SmsMessage.objects.exists()


@pytest.mark.django_db
def test_its_log_masks_the_number_and_leaves_out_the_text(customer, caplog):
    caplog.set_level(logging.INFO, logger="accounts")
    sms_notify(user=customer, body="A private matter about your refund.")
    assert "+1202•••0143" in caplog.text
    assert "+12025550143" not in caplog.text
    assert "private" not in caplog.text
