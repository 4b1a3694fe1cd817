"""Stopping a real queue worker (`manage.py queue_worker`, as the Procfile runs it) while it is in
the middle of sending a text message through Twilio (a local server that takes its time):

- the send ends within QUEUE_WORKER_SHUTDOWN_SECONDS: the worker finishes it, then exits 0; the
  message is sent once;
- it does not (Twilio hangs): the worker is killed at the bound, the job is left to the stalled-jobs
  housekeeping, which puts it back in the queue; run again, it sends nothing, because the message
  may already have gone (it stays `sending`, for the stalled-message recovery to look up at Twilio
  later). One request reached Twilio.
"""

import signal
import subprocess
import sys
import time

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from notifications.models import SmsMessage
from notifications.services import sms_notify
from statstak.queue import retry_stalled_jobs
from tests.factories import CustomerFactory
from tests.fakes.twilio import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER, accept_then_hang
from tests.helpers import jobs_make_due, send_jobs
from tests.processes import environment

DEADLINE_SECONDS = 60


def worker_start(processes, httpserver, *, shutdown_seconds: int, twilio_timeout: int) -> subprocess.Popen:
    env = environment() | {
        "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": TWILIO_FROM_NUMBER,
        "TWILIO_API_BASE_URL": httpserver.url_for("/"),
        "TWILIO_TIMEOUT_SECONDS": str(twilio_timeout),
        "QUEUE_WORKER_SHUTDOWN_SECONDS": str(shutdown_seconds),
    }
    processes.start("worker", [sys.executable, "manage.py", "queue_worker", "--", "--queues", "sms"], env)
    [(_, process)] = processes.running
    return process


def wait_for(condition, what: str, logs) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"{what}\n{logs()}"
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_sigterm_during_a_send_lets_it_finish_and_sends_it_once(processes, twilio, queue, httpserver):
    twilio.will_answer(accept_then_hang(2))  # Twilio takes it, and answers 2 s later
    message = sms_notify(user=CustomerFactory(), body="Your refund is on its way.")
    worker = worker_start(processes, httpserver, shutdown_seconds=30, twilio_timeout=20)
    wait_for(lambda: len(twilio.requests) == 1, "Twilio was never asked", processes.logs)

    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=DEADLINE_SECONDS) == 0, processes.logs()
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.SENT
    assert len(twilio.requests) == 1
    [job] = send_jobs()
    assert job.status == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_sigterm_during_a_send_that_hangs_releases_the_job_at_the_bound_without_a_second_send(
    processes, twilio, queue, httpserver, run_worker
):
    twilio.will_answer(accept_then_hang(45))  # Twilio takes it, and answers after the worker is gone
    message = sms_notify(user=CustomerFactory(), body="Your refund is on its way.")
    worker = worker_start(processes, httpserver, shutdown_seconds=2, twilio_timeout=40)
    wait_for(lambda: len(twilio.requests) == 1, "Twilio was never asked", processes.logs)

    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=DEADLINE_SECONDS) == 128 + signal.SIGKILL, processes.logs()
    assert "did not stop within 2 s: killed" in processes.logs()
    [job] = send_jobs()
    assert job.status == "doing"  # left by a dead worker
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.SENDING

    # Its worker's heartbeats have stopped; once they are older than the housekeeping's 30 s
    # (moved back here, rather than waited for), the job goes back to the queue and runs again.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 minute'")
    # The housekeeping job, now (the worker's own periodic deferrer may have queued it already).
    if not ProcrastinateJob.objects.filter(task_name=retry_stalled_jobs.name, status="todo").exists():
        retry_stalled_jobs.defer(timestamp=0)
    jobs_make_due()
    run_worker()

    [job] = send_jobs()
    assert job.status == "succeeded"
    assert job.attempts == 2  # it did run again
    assert len(twilio.requests) == 1  # and did not send again
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.SENDING  # may have gone: looked up at Twilio before any resend
