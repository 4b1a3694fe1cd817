"""`make run` survives a PostgreSQL restart: the processes of Procfile.dev (web server and queue
worker, under honcho, as `make run` starts them) on a PostgreSQL of the test's own, which is
stopped for three seconds and started again. Afterwards both serve: the web answers, and a text
message queued after the restart is sent."""

import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import requests
from django.conf import settings

from tests.processes import environment, free_port, wait_ready

OUTAGE_SECONDS = 3
DEADLINE_SECONDS = 60


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(  # noqa: S603  (our own command line)
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def message_queue(env: dict[str, str], number: int) -> None:
    script = f"""
from django.db import transaction
from accounts.models import User
from notifications.services import customer_notify
with transaction.atomic():
    customer = User.objects.create(email="customer{number}@example.com", first_name="C", last_name="{number}",
                                   phone="+12025550143")
    customer_notify(user=customer, about=None, text="Message {number}")
"""
    manage(env, "shell", "-c", script)


def message_status(url: str, number: int) -> str | None:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            row = conn.execute("SELECT status FROM notifications_smsmessage WHERE body = %s", [f"Message {number}"])
            found = row.fetchone()
    except psycopg.OperationalError:
        return None
    return found[0] if found else None


def wait_sent(url: str, number: int, logs) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if message_status(url, number) == "sent":
            return
        time.sleep(0.5)
    raise AssertionError(f"message {number} was not sent: {message_status(url, number)}\n{logs()}")


@pytest.mark.django_db(transaction=True)
def test_web_and_worker_of_make_run_serve_again_after_a_database_restart(private_postgres, processes):
    env = environment() | {
        "DATABASE_URL": private_postgres.url,
        "DJANGO_DEBUG": "true",
        "QUEUE_WORKER_STALE_SECONDS": "30",
    }
    manage(env, "migrate", "--noinput")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    honcho = str(Path(sys.executable).parent / "honcho")
    processes.start("make-run", [honcho, "start", "-f", "Procfile.dev"], env | {"PORT": str(port)})
    wait_ready(base, processes, time.monotonic() + DEADLINE_SECONDS)

    message_queue(env, 1)
    wait_sent(private_postgres.url, 1, processes.logs)

    private_postgres.stop()
    time.sleep(OUTAGE_SECONDS)
    private_postgres.start()

    message_queue(env, 2)
    wait_sent(private_postgres.url, 2, processes.logs)
    [(_, honcho_process)] = processes.running
    assert honcho_process.poll() is None, processes.logs()
    assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
    deadline = time.monotonic() + DEADLINE_SECONDS
    while requests.get(f"{base}/healthz", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, processes.logs()
        time.sleep(1)
    assert "queue worker stopped on its own" in processes.logs()
