"""Disputes and the rest of the books: the payment-totals rule knows lost disputes, an approval
waits while a dispute is open, and the migration that adds disputes applies to a database with
money in it."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from books.checks import books_verify
from payments.models import Dispute, GatewayEvent, LedgerEntry
from refunds.models import Refund
from refunds.services import RefundRefused, refund_approve
from tests.factories import stripe_payment
from tests.fakes.stripe import WEBHOOK_SECRET
from tests.fakes.stripe_events import dispute_event, stripe_deliver, stripe_dispute
from tests.helpers import refund_request

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


def offenders(rule: str) -> list[tuple[str, int, str]]:
    return [(o.object, o.id, o.detail) for o in books_verify().offenders if o.rule == rule]


def test_the_payment_totals_rule_names_dispute_money_no_lost_dispute_explains():
    payment = stripe_payment(amount=10000, credits=500)
    dispute = stripe_dispute("du_3Books", payment)
    stripe_deliver(Client(), dispute_event("charge.dispute.closed", dispute | {"status": "lost"}))
    assert offenders("payment totals") == []  # the service's entry is explained: else the check below is empty

    LedgerEntry.objects.create(
        user=payment.user, kind=LedgerEntry.Kind.DISPUTE_LOST, credits_delta=0, money_delta=-500, currency="USD",
        balance_after=0, payment=payment,
    )  # fmt: skip

    [(kind, pk, detail)] = offenders("payment totals")
    assert (kind, pk) == ("payment", payment.pk)
    assert "lost disputes 10000, ledger dispute money 10500" in detail


def test_an_approval_waits_while_a_dispute_is_open(settings, finance_staff, second_finance):
    settings.REFUND_APPROVAL_THRESHOLD = 1000
    payment = stripe_payment(amount=10000, credits=500)
    waiting = refund_request(payment, actor=finance_staff, amount=5000, type=Refund.Type.CREDITS)
    assert waiting.status == Refund.Status.AWAITING_APPROVAL
    stripe_deliver(Client(), dispute_event("charge.dispute.created", stripe_dispute("du_3Waiting", payment)))

    with pytest.raises(RefundRefused, match="cannot be refunded while the dispute is open"):
        refund_approve(refund=waiting, approver=second_finance)

    waiting.refresh_from_db()
    assert waiting.status == Refund.Status.AWAITING_APPROVAL


def test_the_disputes_migration_applies_to_a_database_with_money_in_it():
    payment = stripe_payment(amount=10000, credits=500)
    GatewayEvent.objects.create(gateway="stripe", event_id="evt_3BeforeDisputes", type="refund.updated")
    entries = LedgerEntry.objects.count()
    executor = MigrationExecutor(connection)
    executor.migrate([("payments", "0008_sandbox_refund")])
    with connection.cursor() as cursor:  # the previous schema: no api_version, no dispute table
        cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'payments_gatewayevent'")
        assert "api_version" not in {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "INSERT INTO payments_gatewayevent (gateway, event_id, type, object_id, outcome, received_at)"
            " VALUES ('stripe', 'evt_3OldCode', 'refund.created', '', '', now())"
        )

    call_command("migrate", verbosity=0)  # every app: going back to 0008 also unapplied the refunds migrations after it
    latest = MigrationExecutor(connection)
    assert latest.migration_plan(latest.loader.graph.leaf_nodes()) == []  # the tests after this one see every table

    assert set(GatewayEvent.objects.values_list("event_id", "api_version")) == {
        ("evt_3BeforeDisputes", ""),
        ("evt_3OldCode", ""),
    }
    assert LedgerEntry.objects.count() == entries
    assert not Dispute.objects.exists()
    stripe_deliver(Client(), dispute_event("charge.dispute.created", stripe_dispute("du_3AfterMigration", payment)))
    assert Dispute.objects.get().payment == payment
    call_command("verify_ledger")
