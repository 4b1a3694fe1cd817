"""Two workers, as two real `manage.py procrastinate worker` processes, share out a backlog."""

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction

from notifications.models import SmsMessage
from notifications.services import sms_notify
from tests.factories import CustomerFactory
from tests.fakes.twilio import PUBLIC_BASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER
from tests.helpers import send_jobs

MESSAGES = 1000
# Far more than the few seconds this takes; a worker still running then is a failure, not a hang.
WORKER_TIMEOUT_SECONDS = 180
JOB_STARTED = re.compile(r"Starting job notifications\.sms_send\[(\d+)\]")


def worker_environment(twilio_url: str) -> dict[str, str]:
    """The environment of a worker process on this test's database and Twilio server."""
    env = os.environ.copy()
    test_database = connection.settings_dict["NAME"]
    if env.get("DATABASE_URL"):
        env["DATABASE_URL"] = urlsplit(env["DATABASE_URL"])._replace(path=f"/{test_database}").geturl()
    else:
        env["STATSTAK_EMBEDDED_DATABASE"] = test_database
    env.update(
        TWILIO_ACCOUNT_SID=TWILIO_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=TWILIO_AUTH_TOKEN,
        TWILIO_FROM_NUMBER=TWILIO_FROM_NUMBER,
        TWILIO_MESSAGING_SERVICE_SID="",
        TWILIO_API_BASE_URL=twilio_url,
        PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        LOG_LEVEL="INFO",
    )
    return env


def test_two_workers_send_each_of_a_thousand_messages_exactly_once(twilio, queue, tmp_path: Path):
    customers = CustomerFactory.create_batch(10)
    with transaction.atomic():
        messages = [sms_notify(user=customers[n % 10], body=f"Notice {n}") for n in range(MESSAGES)]

    env = worker_environment(twilio.server.url_for("/"))
    logs = [tmp_path / f"worker-{n}.log" for n in (1, 2)]
    workers = []
    for log in logs:
        with log.open("w") as out:
            workers.append(
                subprocess.Popen(  # noqa: S603  (our own command line)
                    [sys.executable, "manage.py", "procrastinate", "worker", "--one-shot", "--name", log.stem],
                    cwd=settings.BASE_DIR,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        for worker in workers:
            worker.wait(timeout=WORKER_TIMEOUT_SECONDS)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert [worker.returncode for worker in workers] == [0, 0], [log.read_text()[-2000:] for log in logs]

    # Each message reached Twilio once, and nothing else did.
    assert len(twilio.requests) == MESSAGES
    bodies = Counter(form["Body"] for form in twilio.accepted)
    assert bodies == Counter(message.text for message in SmsMessage.objects.all())
    assert sorted(body.split("\nRef ")[0] for body in bodies) == sorted(message.body for message in messages)
    # Each job was started once, by one worker or the other.
    started = [job_id for log in logs for job_id in JOB_STARTED.findall(log.read_text())]
    assert len(started) == len(set(started)) == MESSAGES
    # And the database agrees.
    assert Counter(SmsMessage.objects.values_list("status", flat=True)) == {SmsMessage.Status.SENT: MESSAGES}
    assert set(SmsMessage.objects.values_list("provider_message_id", flat=True)) == {
        form["sid"] for form in twilio.accepted
    }
    assert set(SmsMessage.objects.values_list("attempts", flat=True)) == {1}
    assert Counter(job.status for job in send_jobs()) == {"succeeded": MESSAGES}
