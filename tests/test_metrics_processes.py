"""/metrics under gunicorn, as in production: several worker processes and a queue worker, each
counting in its own memory, give one answer.

gunicorn (two processes) and `manage.py queue_worker` share a PROMETHEUS_MULTIPROC_DIR; gunicorn
empties it when it starts. Requests answered by either web process are all counted whichever
process answers the scrape, and a text sent by the queue worker (console backend) is counted in
the web's answer too. The web runs with LOG_FORMAT=json: every line it writes, gunicorn's own
included, is a JSON object.
"""

import json
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from notifications.models import SmsMessage
from notifications.services import sms_notify
from tests.factories import CustomerFactory
from tests.helpers import METRICS_TOKEN
from tests.processes import environment, free_port, wait_ready

DEADLINE_SECONDS = 60
REQUESTS = 20


def scrape(base: str) -> dict[tuple[str, frozenset], float]:
    response = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text[:300]
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def readyz_count(samples) -> float:
    return sum(
        value
        for (name, labels), value in samples.items()
        if name == "statstak_http_request_duration_seconds_count" and ("view", "readyz") in labels
    )


@pytest.mark.django_db(transaction=True)
def test_every_process_on_the_machine_is_counted_in_one_answer(processes, queue, tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"left by an earlier run")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment() | {"METRICS_TOKEN": METRICS_TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    web_log = processes.start(
        "web",
        [gunicorn, "-c", "gunicorn.conf.py", "statstak.wsgi"],
        env | {"GUNICORN_BIND": f"127.0.0.1:{port}", "LOG_FORMAT": "json"},
    )
    processes.start("worker", [sys.executable, "manage.py", "queue_worker"], env)
    wait_ready(base, processes, time.monotonic() + DEADLINE_SECONDS)
    assert not (folder / "counter_999999.db").exists()  # emptied when gunicorn started
    before = readyz_count(scrape(base))

    for _ in range(REQUESTS):  # a new connection each: either web process may answer
        assert requests.get(f"{base}/readyz", timeout=10, headers={"Connection": "close"}).status_code == 200
    message = sms_notify(user=CustomerFactory(), body="Your refund is on its way.")
    deadline = time.monotonic() + DEADLINE_SECONDS
    while SmsMessage.objects.get(pk=message.pk).status != SmsMessage.Status.SENT:
        assert time.monotonic() < deadline, processes.logs()
        time.sleep(0.2)

    answers = [scrape(base) for _ in range(4)]
    for samples in answers:  # the same sums whichever web process answered
        assert readyz_count(samples) == before + REQUESTS
        sent = {"service": "console", "operation": "message_create", "outcome": "ok"}
        assert samples[("statstak_external_call_duration_seconds_count", frozenset(sent.items()))] == 1
        assert samples[("statstak_sms_messages", frozenset({("status", "sent")}))] == 1
    writers = {path.stem.rsplit("_", 1)[1] for path in folder.glob("*.db")}
    assert len(writers) >= 2, writers  # the web's processes and the queue worker's wrote there
    written = web_log.read_text().splitlines()
    assert [line for line in written if not line.startswith("{")] == []
    lines = [json.loads(line) for line in written]
    assert {"gunicorn.error", "statstak.request"} <= {line["logger"] for line in lines}
    assert sum(line.get("view") == "readyz" for line in lines) >= REQUESTS


@pytest.mark.django_db(transaction=True)
def test_a_queue_worker_on_a_machine_of_its_own_serves_its_counts_behind_the_token(processes, queue):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment() | {"METRICS_TOKEN": METRICS_TOKEN, "QUEUE_WORKER_METRICS_PORT": str(port)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    processes.start("worker", [sys.executable, "manage.py", "queue_worker"], env)
    message = sms_notify(user=CustomerFactory(), body="Your refund is on its way.")
    deadline = time.monotonic() + DEADLINE_SECONDS
    while SmsMessage.objects.get(pk=message.pk).status != SmsMessage.Status.SENT:
        assert time.monotonic() < deadline, processes.logs()
        time.sleep(0.2)

    assert requests.get(f"{base}/metrics", timeout=10).status_code == 401
    assert requests.get(f"{base}/metrics", headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
    assert requests.get(f"{base}/other", timeout=10).status_code == 404
    samples = scrape(base)
    sent = {"service": "console", "operation": "message_create", "outcome": "ok"}
    assert samples[("statstak_external_call_duration_seconds_count", frozenset(sent.items()))] == 1
    assert not any(name.startswith("statstak_sms_messages") for name, _ in samples)  # the web serves the database's
