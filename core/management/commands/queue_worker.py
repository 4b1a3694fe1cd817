"""`manage.py queue_worker`: a queue worker that outlives the database.

procrastinate's worker stops for good when PostgreSQL goes away, even for seconds (its listener
fails, then it stops on all queues), and under `make run` the process manager then stopped the
web server with it. This command runs `manage.py procrastinate worker` as a child process and
starts it again whenever it stops without being asked to, waiting a little longer each time
(1 s, 2 s, 4 s … at most 30 s) while the database is down, so a restart of PostgreSQL costs
seconds of queue time, never the portal. SIGTERM or SIGINT (Ctrl-C) is passed to the child, which
finishes its jobs; then this command exits with the child's status.

Jobs are never lost in between: they wait in PostgreSQL, and a job a dead worker left `doing` is
retried by the stalled-jobs housekeeping (statstak/queue.py).
"""

import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

logger = logging.getLogger("core.queue_worker")

BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
# A child that ran this long was healthy: the next restart starts the backoff again.
HEALTHY_RUN_SECONDS = 60.0


class Command(BaseCommand):
    help = "Run a queue worker, restarted whenever it stops on its own (a database outage, say)."

    def add_arguments(self, parser):
        parser.add_argument("worker_args", nargs="*", help="passed to `procrastinate worker` (e.g. --queues sms)")

    def handle(self, *args, worker_args: list[str], **options) -> None:
        command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "procrastinate", "worker", *worker_args]
        stopping = False
        child: subprocess.Popen | None = None

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True
            if child is not None and child.poll() is None:
                child.send_signal(signum)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        backoff = BACKOFF_FIRST_SECONDS
        while True:
            started = time.monotonic()
            child = subprocess.Popen(command)  # noqa: S603  (our own command line)
            status = child.wait()
            if stopping:
                sys.exit(status)
            if time.monotonic() - started > HEALTHY_RUN_SECONDS:
                backoff = BACKOFF_FIRST_SECONDS
            logger.warning("queue worker stopped on its own (exit %s); starting it again in %.0f s", status, backoff)
            deadline = time.monotonic() + backoff
            while not stopping and time.monotonic() < deadline:
                time.sleep(0.1)
            if stopping:
                sys.exit(0)
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
