"""The business's state as Prometheus gauges, read from PostgreSQL when `/metrics` is asked.

Why at scrape time, from the database: refunds, messages, jobs and books checks live there, and
every web process sees the same rows, so any process can answer for all of them, with no state
shared between processes and nothing to lose when one restarts. A count kept in memory by the
process that changed a row would be wrong as soon as another process, or a worker, changed one.

Every query is bounded: one short transaction, READ ONLY, under a statement timeout; the queries
use the partial indexes on unsettled refunds, waiting approvals and live jobs, and the tables
read whole (messages by status, webhook events by type) are read once per scrape. A database that
does not answer gives `statstak_metrics_database_up 0` and none of these families, never a 500:
the alert on that gauge says why the others went quiet.

Labels come from fixed lists (statuses, types, queue and rule names in this code); a value the
code does not know is counted as "other". No customer, amount or id is ever a label.
"""

import logging
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from accounts.audit import AccountAction
from books.checks import RULES
from notifications.models import SmsStatus
from payments.models import CreditChangeRequest, Dispute, Payment
from refunds.models import Refund
from statstak.queue import app as queue_app

logger = logging.getLogger(__name__)

STATEMENT_TIMEOUT_MS = 2000
AUTH_EVENTS = (AccountAction.LOGIN_FAILED, AccountAction.LOGIN_LOCKED_OUT, AccountAction.TWO_FACTOR_FAILED)
# Refunds looked at for "in the last day": the newest this many.
REFUNDS_RECENT_LIMIT = 10000
JOB_STATUSES = ("todo", "doing", "failed")
# Twilio's callbacks are the only way a message becomes delivered or undelivered.
TWILIO_CALLBACK_STATUSES = (SmsStatus.DELIVERED, SmsStatus.UNDELIVERED)


def _bounded(value: str, known: Iterable[str]) -> str:
    return value if value in known else "other"


def _gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


def _seconds(value) -> float:
    return float(value) if value is not None else 0.0


class BusinessStateCollector(Collector):
    """Reads the business's state from PostgreSQL at every scrape (see the module's docstring)."""

    def collect(self) -> Iterator[Metric]:
        up = _gauge("statstak_metrics_database_up", "1 when the database answered this scrape's queries, else 0.")
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION READ ONLY")
                cursor.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
                families = list(self._families(cursor))
        except DatabaseError as error:
            logger.warning("metrics: the database did not answer: %s", error)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, cursor) -> Iterator[Metric]:
        yield from self._refunds(cursor)
        yield from self._approvals(cursor)
        yield from self._disputes(cursor)
        messages, twilio_last_callback = self._messages(cursor)
        yield from messages
        yield from self._queue(cursor)
        yield from self._webhooks(cursor, twilio_last_callback=twilio_last_callback)
        yield from self._books(cursor)
        yield from self._logins(cursor)

    def _refunds(self, cursor) -> Iterator[Metric]:
        types, statuses = Refund.Type.values, Refund.Status.values
        refunds = _gauge("statstak_refunds", "Refunds in the database, by type and status.", ["type", "status"])
        counts = dict.fromkeys(((t, s) for t in types for s in statuses), 0)
        cursor.execute("SELECT type, status, count(*) FROM refunds_refund GROUP BY 1, 2")
        for type_, status, count in cursor.fetchall():
            key = (_bounded(type_, types), _bounded(status, statuses))
            counts[key] = counts.get(key, 0) + count
        for (type_, status), count in counts.items():
            refunds.add_metric([type_, status], count)
        yield refunds

        # Unsettled since the gateway was first asked: approval, for a refund that waited for it.
        unsettled = _gauge("statstak_refunds_unsettled", "Refunds waiting on the gateway, by status.", ["status"])
        oldest = _gauge(
            "statstak_refund_unsettled_oldest_age_seconds",
            "Age of the oldest refund waiting on the gateway (since it was asked), by status; 0 when none.",
            ["status"],
        )
        found = {status: (0, None) for status in Refund.UNSETTLED}
        cursor.execute(
            """SELECT status, count(*), extract(epoch FROM now() - min(coalesce(decided_at, created_at)))
               FROM refunds_refund WHERE status = ANY(%s) GROUP BY status""",
            [list(Refund.UNSETTLED)],
        )
        for status, count, age in cursor.fetchall():
            found[status] = (count, age)
        for status, (count, age) in found.items():
            unsettled.add_metric([status], count)
            oldest.add_metric([status], _seconds(age))
        yield unsettled
        yield oldest

        recent = _gauge(
            "statstak_refunds_last_day",
            "Refunds made in the last 24 hours, by the gateway of their payment (of the newest "
            f"{REFUNDS_RECENT_LIMIT}).",
            ["gateway"],
        )
        gateways = dict.fromkeys(Payment.Gateway.values, 0)
        cursor.execute(
            """SELECT p.gateway, count(*) FROM (
                   SELECT payment_id, type, created_at FROM refunds_refund ORDER BY id DESC LIMIT %s
               ) r JOIN payments_payment p ON p.id = r.payment_id
               WHERE r.created_at > now() - interval '1 day' AND r.type <> %s GROUP BY 1""",
            [REFUNDS_RECENT_LIMIT, Refund.Type.CREDITS],
        )
        for gateway, count in cursor.fetchall():
            key = _bounded(gateway, gateways)
            gateways[key] = gateways.get(key, 0) + count
        for gateway, count in gateways.items():
            recent.add_metric([gateway], count)
        yield recent

    def _approvals(self, cursor) -> Iterator[Metric]:
        waiting = _gauge("statstak_approvals_waiting", "Requests waiting for a second staff member, by kind.", ["kind"])
        oldest = _gauge(
            "statstak_approval_oldest_age_seconds",
            "Age of the oldest request waiting for approval, by kind; 0 when none.",
            ["kind"],
        )
        cursor.execute(
            """SELECT 'refund', count(*), extract(epoch FROM now() - min(created_at))
               FROM refunds_refund WHERE status = %s
               UNION ALL
               SELECT 'credit_change', count(*), extract(epoch FROM now() - min(created_at))
               FROM payments_creditchangerequest WHERE status = %s""",
            [Refund.Status.AWAITING_APPROVAL, CreditChangeRequest.Status.AWAITING_APPROVAL],
        )
        for kind, count, age in cursor.fetchall():
            waiting.add_metric([kind], count)
            oldest.add_metric([kind], _seconds(age))
        yield waiting
        yield oldest

    def _disputes(self, cursor) -> Iterator[Metric]:
        statuses = list(Dispute.OPEN)
        opened = _gauge("statstak_disputes_open", "Disputes the bank opened and has not decided.", ["status"])
        due = _gauge(
            "statstak_dispute_evidence_due_in_seconds",
            "Time left until the earliest evidence deadline of a dispute that needs a response (negative: "
            "passed); absent when none does.",
        )
        counts = dict.fromkeys(statuses, 0)
        cursor.execute(
            "SELECT status, count(*) FROM payments_dispute WHERE status = ANY(%s) GROUP BY status", [statuses]
        )
        for status, count in cursor.fetchall():
            counts[status] = count
        for status, count in counts.items():
            opened.add_metric([status], count)
        cursor.execute(
            """SELECT extract(epoch FROM min(evidence_due_at) - now()) FROM payments_dispute
               WHERE status = ANY(%s) AND evidence_due_at IS NOT NULL""",
            [[Dispute.Status.NEEDS_RESPONSE, Dispute.Status.INQUIRY_NEEDS_RESPONSE]],
        )
        left = cursor.fetchone()[0]
        if left is not None:
            due.add_metric([], float(left))
        yield opened
        yield due

    def _messages(self, cursor) -> tuple[list[Metric], float]:
        """The messages' families, and when Twilio's status callback last moved one (Unix time)."""
        statuses = SmsStatus.values
        messages = _gauge("statstak_sms_messages", "Text messages in the database, by status.", ["status"])
        oldest = _gauge(
            "statstak_sms_oldest_age_seconds",
            "Age of the oldest message still queued (since it was written), sending (since it was handed to "
            "the provider) or unconfirmed (since its send was found interrupted); 0 when none.",
            ["status"],
        )
        found = dict.fromkeys(statuses, 0)
        ages = dict.fromkeys((SmsStatus.QUEUED, SmsStatus.SENDING, SmsStatus.UNCONFIRMED), 0.0)
        last_callback = 0.0
        cursor.execute(
            """SELECT status, count(*),
                      extract(epoch FROM now() - min(created_at)),
                      extract(epoch FROM now() - min(status_changed_at)),
                      extract(epoch FROM max(status_changed_at))
               FROM notifications_smsmessage GROUP BY status"""
        )
        for status, count, created_age, changed_age, changed_last in cursor.fetchall():
            key = _bounded(status, statuses)
            found[key] = found.get(key, 0) + count
            if status == SmsStatus.QUEUED:
                ages[status] = _seconds(created_age)
            elif status in (SmsStatus.SENDING, SmsStatus.UNCONFIRMED):
                ages[status] = _seconds(changed_age)
            if status in TWILIO_CALLBACK_STATUSES:
                last_callback = max(last_callback, _seconds(changed_last))
        for status, count in found.items():
            messages.add_metric([status], count)
        for status, age in ages.items():
            oldest.add_metric([status], age)
        return [messages, oldest], last_callback

    def _queue(self, cursor) -> Iterator[Metric]:
        queues = sorted({task.queue for task in queue_app.tasks.values()})
        jobs = _gauge("statstak_queue_jobs", "Jobs in the queue's table, by queue and status.", ["queue", "status"])
        oldest = _gauge(
            "statstak_queue_oldest_due_job_age_seconds",
            "How long the oldest job that is due has waited, by queue; 0 when none.",
            ["queue"],
        )
        counts = dict.fromkeys(((q, s) for q in queues for s in JOB_STATUSES), 0)
        cursor.execute(
            """SELECT queue_name, status::text, count(*) FROM procrastinate_jobs
               WHERE status::text = ANY(%s) GROUP BY 1, 2""",
            [list(JOB_STATUSES)],
        )
        for queue, status, count in cursor.fetchall():
            key = (_bounded(queue, queues), status)
            counts[key] = counts.get(key, 0) + count
        for (queue, status), count in counts.items():
            jobs.add_metric([queue, status], count)
        yield jobs

        ages = dict.fromkeys(queues, 0.0)
        cursor.execute(
            """WITH oldest AS (
                   SELECT DISTINCT ON (queue_name) id, queue_name, scheduled_at FROM procrastinate_jobs
                   WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())
                   ORDER BY queue_name, id
               )
               SELECT o.queue_name, extract(epoch FROM now() - greatest(max(e.at), max(o.scheduled_at)))
               FROM oldest o JOIN procrastinate_events e ON e.job_id = o.id AND e.type = 'deferred'
               GROUP BY o.queue_name"""
        )
        for queue, age in cursor.fetchall():
            key = _bounded(queue, queues)
            ages[key] = max(ages.get(key, 0.0), _seconds(age))
        for queue, age in ages.items():
            oldest.add_metric([queue], age)
        yield oldest

        workers = _gauge(
            "statstak_queue_workers",
            f"Queue workers that sent a heartbeat in the last QUEUE_WORKER_STALE_SECONDS "
            f"({settings.QUEUE_WORKER_STALE_SECONDS} s).",
        )
        heartbeat = _gauge(
            "statstak_queue_worker_last_heartbeat_timestamp_seconds",
            "When any queue worker last sent a heartbeat (Unix time); 0 when none ever did.",
        )
        cursor.execute(
            """SELECT count(*) FILTER (WHERE last_heartbeat > now() - make_interval(secs => %s)),
                      extract(epoch FROM max(last_heartbeat))
               FROM procrastinate_workers""",
            [settings.QUEUE_WORKER_STALE_SECONDS],
        )
        live, last = cursor.fetchone()
        workers.add_metric([], live)
        heartbeat.add_metric([], _seconds(last))
        yield workers
        yield heartbeat

    def _webhooks(self, cursor, *, twilio_last_callback: float) -> Iterator[Metric]:
        callback = _gauge(
            "statstak_webhook_last_received_timestamp_seconds",
            "When the last webhook of a type was received (Unix time); 0 when never. Twilio's: the last "
            "message its status callback made delivered or undelivered.",
            ["source", "type"],
        )
        callback.add_metric(["twilio", "message_status"], twilio_last_callback)
        # Stripe's event types are Stripe's catalogue, and only those sent to this endpoint (its
        # subscription), all signature-checked before they are stored: a bounded set.
        cursor.execute(
            "SELECT gateway, type, extract(epoch FROM max(received_at)) FROM payments_gatewayevent GROUP BY 1, 2"
        )
        last_stripe = 0.0
        for gateway, type_, last in cursor.fetchall():
            callback.add_metric([_bounded(gateway, Payment.Gateway.values), type_], _seconds(last))
            last_stripe = max(last_stripe, _seconds(last))
        any_stripe = _gauge(
            "statstak_gateway_last_event_timestamp_seconds",
            "When the last webhook event from the gateway was received, any type (Unix time); 0 when never.",
            ["gateway"],
        )
        any_stripe.add_metric(["stripe"], last_stripe)
        yield callback
        yield any_stripe

    def _books(self, cursor) -> Iterator[Metric]:
        rule_names = [rule.name for rule in RULES]
        last_run = _gauge(
            "statstak_books_check_last_run_timestamp_seconds",
            "When the books check last ran (Unix time); 0 when never.",
        )
        offenders = _gauge("statstak_books_check_offenders", "Rows breaking a rule of the books at the last check.")
        by_rule = _gauge(
            "statstak_books_check_rule_offenders", "Rows breaking each rule of the books at the last check.", ["rule"]
        )
        drift_run = _gauge(
            "statstak_drift_check_last_run_timestamp_seconds",
            "When the drift report (our refunds against the gateway's) last ran (Unix time); 0 when never.",
        )
        drift_person = _gauge(
            "statstak_drift_check_needs_person",
            "Exceptions in the last drift report that a person must look at.",
        )
        cursor.execute(
            """SELECT extract(epoch FROM ran_at), offender_count, rules
               FROM books_bookscheck ORDER BY ran_at DESC LIMIT 1"""
        )
        row = cursor.fetchone()
        ran, count, rules = row if row is not None else (None, 0, {})
        rules = rules if isinstance(rules, dict) else {}
        last_run.add_metric([], _seconds(ran))
        offenders.add_metric([], count)
        totals = dict.fromkeys(rule_names, 0)
        for name, value in rules.items():
            key = _bounded(name, rule_names)
            totals[key] = totals.get(key, 0) + (value if isinstance(value, int) else 0)
        for name, value in totals.items():
            by_rule.add_metric([name], value)
        cursor.execute(
            "SELECT extract(epoch FROM ran_at), needs_person_count FROM books_driftcheck ORDER BY ran_at DESC LIMIT 1"
        )
        row = cursor.fetchone()
        drift_ran, needs_person = row if row is not None else (None, 0)
        drift_run.add_metric([], _seconds(drift_ran))
        drift_person.add_metric([], needs_person)
        yield from (last_run, offenders, by_rule, drift_run, drift_person)

    def _logins(self, cursor) -> Iterator[Metric]:
        events = _gauge(
            "statstak_auth_events_last_hour",
            "Failed logins, lockouts and refused two-factor codes in the last hour (from the audit trail).",
            ["event"],
        )
        # The last hour of the trail, through its newest-first index (accounts_audit_newest): the work grows
        # with the hour's events, not with the trail (1.2 million events: 13 ms; by action, it was 470 ms).
        counts = dict.fromkeys((action.value for action in AUTH_EVENTS), 0)
        cursor.execute(
            """SELECT action, count(*) FROM audit_auditevent
               WHERE created_at > now() - interval '1 hour' AND action = ANY(%s) GROUP BY action""",
            [list(counts)],
        )
        for action, count in cursor.fetchall():
            counts[action] = count
        for action, count in counts.items():
            events.add_metric([action], count)
        yield events
        locked = _gauge(
            "statstak_login_lockouts_active",
            "Logins (typed email and address) locked out now, after LOGIN_FAILURE_LIMIT failures in a row.",
        )
        cursor.execute(
            """SELECT count(*) FROM axes_accessattempt
               WHERE failures_since_start >= %s AND attempt_time > now() - make_interval(mins => %s)""",
            [settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_LOCKOUT_MINUTES],
        )
        locked.add_metric([], cursor.fetchone()[0])
        yield locked
