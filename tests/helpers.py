"""Plain helpers shared by tests in several folders: the job queue, refunds asked for as staff ask."""

from itertools import count

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Sum
from procrastinate.contrib.django.models import ProcrastinateJob

from accounts.models import User
from notifications.models import SmsMessage
from payments.models import LedgerEntry, Payment
from payments.selectors import ledger_verify
from refunds.models import Refund
from refunds.services import refund_execute

# The job queue (procrastinate's tables).

SEND_TASK = "notifications.sms_send"


def queue_clear() -> None:
    # The queue's tables are not Django-managed, so the transactional tests' flush skips them.
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers, procrastinate_workers"
            " RESTART IDENTITY CASCADE"
        )


def send_jobs() -> list[ProcrastinateJob]:
    return list(ProcrastinateJob.objects.filter(task_name=SEND_TASK).order_by("id"))


def jobs_make_due() -> None:
    """Time travel for backoff: jobs waiting for a later retry become due now."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE status = 'todo'")


# Refunds.

_keys = count(1)


def refund_request(
    payment: Payment, *, actor: User, amount: int | None = 2500, idempotency_key: str = "", **arguments
) -> Refund:
    """`refund_execute` as the refund form calls it: a partial card refund the customer asked for,
    with no note, on the payment as it is now (read afresh, as the view does), under a new
    idempotency key unless one is given; `arguments` change any of that."""
    return refund_execute(
        payment=Payment.objects.get(pk=payment.pk),
        actor=actor,
        amount=amount,
        idempotency_key=idempotency_key or f"test-refund-key-{next(_keys):08d}",
        **{"type": Refund.Type.PARTIAL, "reason": Refund.Reason.REQUESTED_BY_CUSTOMER, "note": ""} | arguments,
    )


def sms_jobs_for(refund: Refund) -> list[SmsMessage]:
    """The SMS messages about a refund, each checked to have exactly one send job in the queue."""
    messages = list(
        SmsMessage.objects.filter(about_type=ContentType.objects.get_for_model(Refund), about_id=refund.pk).order_by(
            "pk"
        )
    )
    for message in messages:
        jobs = ProcrastinateJob.objects.filter(task_name=SEND_TASK, args__message_id=message.pk)
        assert jobs.count() == 1, f"SMS {message.pk} has {jobs.count()} send jobs"
    return messages


def assert_books_balance() -> None:
    """The invariants of DESIGN.md that the refund scenarios touch."""
    assert ledger_verify().mismatch_count == 0
    for payment in Payment.objects.all():
        refunds = Refund.objects.filter(payment=payment)
        reserved = refunds.filter(status__in=Refund.RESERVING).aggregate(total=Sum("amount"))["total"] or 0
        succeeded = refunds.filter(status=Refund.Status.SUCCEEDED).aggregate(total=Sum("amount"))["total"] or 0
        assert reserved <= payment.amount, f"payment {payment.pk}: {reserved} reserved of {payment.amount}"
        assert payment.amount_refunded == succeeded
    for refund in Refund.objects.all():
        entries = LedgerEntry.objects.filter(refund_id=refund.pk, kind=LedgerEntry.Kind.REFUND).count()
        reversals = LedgerEntry.objects.filter(refund_id=refund.pk, kind=LedgerEntry.Kind.REFUND_REVERSAL).count()
        if refund.status == Refund.Status.SUCCEEDED:
            assert (entries, reversals) == (1, 0), f"refund {refund.pk}: {entries} entries, {reversals} reversals"
        else:
            assert entries == reversals <= 1, f"refund {refund.pk}: {entries} entries, {reversals} reversals"


# Metrics (/metrics), as Prometheus reads them.

METRICS_TOKEN = "metrics-test-token-0123456789abcdefghijklmnop"


def metrics_scrape(client) -> dict[tuple[str, frozenset], float]:
    """Every sample of one scrape of /metrics (settings.METRICS_TOKEN must be METRICS_TOKEN):
    {(name, frozenset(labels.items())): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.content[:300]
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def metric(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    """One sample's value; 0 when it is not there (a labelled series nothing has touched yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def metric_total(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    """The sum of every sample of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (each, found), value in samples.items() if each == name and wanted <= found)
