"""Health and readiness of a web process, for load balancers, orchestrators and monitoring.

- `GET /readyz`: may this process take traffic? The database answers and every migration this
  code expects is applied (a new release's processes stay out of rotation until `migrate` has
  run). Cheap enough for a load balancer to ask every few seconds: once the migrations are found
  applied the answer is kept for the life of the process (its code, and so its migrations, cannot
  change), leaving one `SELECT 1`.
- `GET /healthz`: the same, plus the queue: its tables answer, at least one queue worker sent a
  heartbeat within QUEUE_WORKER_STALE_SECONDS (else 503 "no queue worker seen …": texts and
  reconciliation have stopped, although pages are still served), and how long the oldest due job
  has waited (reported, for alerting: a backlog drains on its own). For monitoring and a deploy's
  smoke test, not for a load balancer (a web process is not at fault when no worker runs).
  Also the text messages: 503 "Twilio refused the portal's credentials" while messages wait for
  the SMS settings (401, error 20003: none is sent until someone fixes them), and how many are
  unconfirmed (an answer lost, looked up before any resend) or left `sending` by a stopped worker.
  Beside them, a detail that never fails the check: the API version of the latest Stripe webhook
  event and whether it is older than the handlers need (`stripe_webhooks`): on an older version
  Stripe sends no refund.* event for a card payment's refund.

Both answer without a login and show no customer data: counts and names of checks only. Each
answers 200 when its checks pass and 503 naming the failed check otherwise, so a load balancer
needs no parsing. Every query runs under a short statement timeout, so a stuck database makes the
check fail rather than hang.
"""

import logging
import time

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from notifications.selectors import sms_health
from payments.selectors import stripe_webhook_api_version

logger = logging.getLogger(__name__)

STATEMENT_TIMEOUT_MS = 2000

_migrations_applied = False


class CheckFailed(Exception):
    """A check did not pass; `str()` says which and why, in words safe to show anyone."""


def _bounded_cursor():
    cursor = connection.cursor()
    cursor.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
    return cursor


def database_check() -> None:
    try:
        with transaction.atomic(), _bounded_cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        logger.warning("health: the database does not answer: %s", error)
        raise CheckFailed("database unreachable") from error


def migrations_check() -> None:
    """Every migration of this code is applied (found once per process, then remembered)."""
    global _migrations_applied
    if _migrations_applied:
        return
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        raise CheckFailed("migrations could not be read") from error
    if pending:
        raise CheckFailed(f"{len(pending)} migrations not applied")
    _migrations_applied = True


def queue_check() -> dict[str, float | int | None]:
    """The queue's tables answer; the live workers, the due jobs and how long the oldest has waited."""
    try:
        with transaction.atomic(), _bounded_cursor() as cursor:
            cursor.execute(
                """
                WITH due AS (
                    SELECT id, scheduled_at FROM procrastinate_jobs
                    WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())
                ), oldest AS (SELECT id, scheduled_at FROM due ORDER BY id LIMIT 1)
                SELECT
                    (SELECT count(*) FROM procrastinate_workers
                     WHERE last_heartbeat > now() - make_interval(secs => %s)),
                    (SELECT extract(epoch FROM now() - max(last_heartbeat)) FROM procrastinate_workers),
                    (SELECT count(*) FROM due),
                    (SELECT extract(epoch FROM now() - greatest(max(e.at), max(o.scheduled_at)))
                     FROM oldest o JOIN procrastinate_events e ON e.job_id = o.id AND e.type = 'deferred')
                """,
                [settings.QUEUE_WORKER_STALE_SECONDS],
            )
            workers, last_seen, due, oldest = cursor.fetchone()
    except DatabaseError as error:
        logger.warning("health: the queue's tables do not answer: %s", error)
        raise CheckFailed("queue unreachable") from error
    return {
        "workers": workers,
        "last_worker_heartbeat_seconds": round(float(last_seen), 1) if last_seen is not None else None,
        "due_jobs": due,
        "oldest_due_job_seconds": round(float(oldest), 1) if oldest is not None else None,
    }


def sms_check() -> dict[str, int]:
    """Counts of the text messages that need an eye: waiting for the SMS settings, unconfirmed, stalled."""
    try:
        with transaction.atomic(), _bounded_cursor():
            counts = sms_health()
    except DatabaseError as error:
        logger.warning("health: the text messages do not answer: %s", error)
        raise CheckFailed("text messages unreadable") from error
    return {
        "waiting_for_credentials": counts.waiting_for_credentials,
        "unconfirmed": counts.unconfirmed,
        "stalled_sending": counts.stalled_sending,
    }


def _answer(checks: dict, failed: str | None, started: float, **extra) -> JsonResponse:
    body = {
        "status": "ok" if failed is None else "failing",
        "checks": checks,
        **extra,
        "seconds": round(time.perf_counter() - started, 4),
    }
    if failed is not None:
        body["failed"] = failed
    return JsonResponse(body, status=200 if failed is None else 503)


def _run(checks: dict, name: str, check) -> str | None:
    try:
        check()
    except CheckFailed as failure:
        checks[name] = str(failure)
        return str(failure)
    checks[name] = "ok"
    return None


@login_not_required
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    started = time.perf_counter()
    checks: dict[str, str] = {}
    failed = _run(checks, "database", database_check) or _run(checks, "migrations", migrations_check)
    return _answer(checks, failed, started)


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    started = time.perf_counter()
    checks: dict[str, str] = {}
    failed = _run(checks, "database", database_check) or _run(checks, "migrations", migrations_check)
    queue: dict = {}
    if failed is None:

        def queue_read() -> None:
            queue.update(queue_check())
            if queue["workers"] == 0:
                seen = queue["last_worker_heartbeat_seconds"]
                raise CheckFailed(
                    f"no queue worker seen for {seen:.0f} s" if seen is not None else "no queue worker has run yet"
                )

        failed = _run(checks, "queue", queue_read)
    sms: dict = {}
    if failed is None:

        def sms_read() -> None:
            sms.update(sms_check())
            if sms["waiting_for_credentials"]:
                raise CheckFailed(
                    "Twilio refused the portal's credentials (20003): "
                    f"{sms['waiting_for_credentials']} text messages waiting"
                )

        failed = _run(checks, "sms", sms_read)
    return _answer(
        checks, failed, started, queue=queue or None, sms=sms or None, stripe_webhooks=stripe_webhooks_detail()
    )


def stripe_webhooks_detail() -> dict[str, str | bool] | None:
    """The API version Stripe's latest webhook event was written in, the one the handlers need,
    and whether it is outdated; None before any event, or when the database does not answer (the
    checks above say so)."""
    try:
        with transaction.atomic(), _bounded_cursor():
            version = stripe_webhook_api_version()
    except DatabaseError as error:
        logger.warning("health: the webhook events do not answer: %s", error)
        return None
    if version is None:
        return None
    return {"api_version": version.api_version, "needed": version.needed, "outdated": bool(version.outdated)}
