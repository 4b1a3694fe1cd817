"""`manage.py queue_worker`: a queue worker that outlives the database, and stops within a bound.

procrastinate's worker stops for good when PostgreSQL goes away, even for seconds (its listener
fails, then it stops on all queues), and under `make run` the process manager then stopped the
web server with it. This command runs `manage.py procrastinate worker` as a child process and
starts it again whenever it stops without being asked to, waiting a little longer each time
(1 s, 2 s, 4 s … at most 30 s) while the database is down, so a restart of PostgreSQL costs
seconds of queue time, never the portal.

Stopping (a deploy, a scale-in, Ctrl-C): SIGTERM or SIGINT is passed to the child, which takes no
new job and finishes the ones it is running (procrastinate's graceful shutdown), then this
command exits with the child's status. A job that is not done within QUEUE_WORKER_SHUTDOWN_SECONDS
(a provider that does not answer) is not waited for: the child is killed, so that the platform's
own deadline (systemd's TimeoutStopSec, a container's grace period: set them longer than this
bound) never kills this process first with its child left behind. The job stays `doing` in
PostgreSQL, owned by a worker that no longer sends heartbeats, and the stalled-jobs housekeeping
(statstak/queue.py) puts it back in the queue; every job is written to be run again safely (a
text message marked `sending` is never sent twice; a refund is asked about with its same key).

Metrics: the child counts its calls to Twilio and Stripe in PROMETHEUS_MULTIPROC_DIR (core/metrics.py).
Beside gunicorn on one machine, sharing its folder, they are in the web's /metrics. On a machine of
its own, QUEUE_WORKER_METRICS_PORT makes this command serve them itself (a folder of its own,
emptied at start and kept across the child's restarts).
"""

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from core.metrics import MULTIPROC_ENV, metrics_folder, metrics_folder_clean, metrics_http_serve

logger = logging.getLogger("core.queue_worker")

BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
# A child that ran this long was healthy: the next restart starts the backoff again.
HEALTHY_RUN_SECONDS = 60.0
POLL_SECONDS = 0.1


def exit_status(returncode: int) -> int:
    """A child's return code as this process's exit status (killed by signal N: 128 + N, as a shell says)."""
    return 128 - returncode if returncode < 0 else returncode


class Command(BaseCommand):
    help = "Run a queue worker, restarted whenever it stops on its own (a database outage, say)."

    def add_arguments(self, parser):
        parser.add_argument("worker_args", nargs="*", help="passed to `procrastinate worker` (e.g. --queues sms)")

    def handle(self, *args, worker_args: list[str], **options) -> None:
        command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "procrastinate", "worker", *worker_args]
        bound = settings.QUEUE_WORKER_SHUTDOWN_SECONDS
        stop_deadline: float | None = None
        child: subprocess.Popen | None = None

        def stop(signum, frame) -> None:
            nonlocal stop_deadline
            if stop_deadline is None:
                stop_deadline = time.monotonic() + bound
                logger.info("queue worker stopping: running jobs have %d s to finish", bound)
            if child is not None and child.poll() is None:
                child.send_signal(signum)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self._metrics_serve()
        backoff = BACKOFF_FIRST_SECONDS
        while True:
            started = time.monotonic()
            child = subprocess.Popen(command)  # noqa: S603  (our own command line)
            status = self._child_wait(child, lambda: stop_deadline)
            if stop_deadline is not None:
                sys.exit(exit_status(status))
            if time.monotonic() - started > HEALTHY_RUN_SECONDS:
                backoff = BACKOFF_FIRST_SECONDS
            logger.warning("queue worker stopped on its own (exit %s); starting it again in %.0f s", status, backoff)
            deadline = time.monotonic() + backoff
            while stop_deadline is None and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
            if stop_deadline is not None:
                sys.exit(0)
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)

    def _metrics_serve(self) -> None:
        port = settings.QUEUE_WORKER_METRICS_PORT
        if not port:
            return
        if metrics_folder() is None:  # a machine of its own: a folder of its own, for every child
            os.environ[MULTIPROC_ENV] = str(Path(tempfile.gettempdir()) / f"statstak-worker-metrics-{port}")
            metrics_folder_clean()
        # Every address: Prometheus scrapes it from another machine (the token keeps others out).
        metrics_http_serve(address="0.0.0.0", port=port, token=settings.METRICS_TOKEN)  # noqa: S104
        logger.info("queue worker metrics at http://0.0.0.0:%d/metrics", port)

    def _child_wait(self, child: subprocess.Popen, stop_deadline) -> int:
        """The child's return code once it ends; killed when it outlives the stop's deadline."""
        while True:
            try:
                return child.wait(timeout=POLL_SECONDS)
            except subprocess.TimeoutExpired:
                deadline = stop_deadline()
                if deadline is not None and time.monotonic() > deadline:
                    logger.warning(
                        "queue worker did not stop within %d s: killed; its unfinished jobs go back to the queue "
                        "when the stalled-jobs housekeeping finds them",
                        settings.QUEUE_WORKER_SHUTDOWN_SECONDS,
                    )
                    child.kill()
                    return child.wait()
