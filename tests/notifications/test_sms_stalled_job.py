"""A send job left running by a dead worker: the queue's stalled-job retry (statstak/queue.py) runs it again."""

from django.db import connection

from notifications.models import SmsMessage
from notifications.services import sms_notify
from statstak.queue import retry_stalled_jobs
from tests.factories import CustomerFactory
from tests.helpers import send_jobs


def test_a_job_left_running_by_a_dead_worker_is_retried_without_sending_twice(twilio, run_worker):
    message = sms_notify(user=CustomerFactory(), body="Your refund is on its way.")
    run_worker()
    [job] = send_jobs()
    attempts = job.attempts
    # Its worker died after the send and before the queue heard of it: the job is still "doing",
    # owned by no live worker.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = NULL WHERE id = %s", [job.id])

    retry_stalled_jobs.defer(timestamp=0)
    run_worker()

    [job] = send_jobs()
    assert job.status == "succeeded"
    assert job.attempts > attempts  # it did run again
    assert len(twilio.requests) == 1
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.SENT
