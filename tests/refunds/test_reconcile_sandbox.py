"""The sandbox gateway behaves like Stripe across processes: what it made is kept by idempotency
key in the database, so a restart is a replay, and `manage.py reconcile_refunds`, run as its own
process, settles a sandbox refund whose answer was lost, as the README says."""

import subprocess
import sys

import pytest
from django.conf import settings

from payments.gateway import GatewayUnavailable, SandboxGateway
from payments.models import LedgerEntry, SandboxRefund
from refunds.models import Refund
from tests.factories import PaymentFactory, purchase_record
from tests.helpers import assert_books_balance, refund_request, sms_jobs_for
from tests.processes import environment

pytestmark = pytest.mark.django_db(transaction=True)


def _ask(sandbox: SandboxGateway, *, amount: int = 1500, key: str = "sandbox-form-key-1"):
    return sandbox.refund(
        payment_gateway_id="pi_sandbox_timeout_restart",
        amount=amount,
        currency="USD",
        reason="requested_by_customer",
        idempotency_key=key,
        portal_refund_id=41,
        portal_staff_id=7,
    )


def test_a_sandbox_after_a_restart_replays_the_refund_made_for_a_key_and_never_makes_a_second():
    with pytest.raises(GatewayUnavailable, match="answer was lost"):
        _ask(SandboxGateway())

    after_restart = _ask(SandboxGateway())  # a new process: nothing in memory

    made = SandboxRefund.objects.get()
    assert (after_restart.id, after_restart.status) == (made.refund_id, "succeeded")
    assert (made.amount, made.portal_refund_id, made.payment_gateway_id) == (1500, 41, "pi_sandbox_timeout_restart")


def test_the_sandbox_refuses_a_key_used_again_with_another_amount_as_stripe_does():
    with pytest.raises(GatewayUnavailable):
        _ask(SandboxGateway())

    with pytest.raises(GatewayUnavailable, match="other parameters"):
        _ask(SandboxGateway(), amount=1600)

    assert SandboxRefund.objects.count() == 1


def test_the_reconcile_command_in_its_own_process_settles_a_sandbox_refund_whose_answer_was_lost(refunder):
    payment = purchase_record(PaymentFactory(gateway_id="pi_sandbox_timeout_command"))
    refund = refund_request(payment, actor=refunder, amount=1500)
    assert (refund.status, refund.gateway_refund_id) == (Refund.Status.PENDING, "")
    made = SandboxRefund.objects.get(idempotency_key=refund.idempotency_key)

    done = subprocess.run(
        [sys.executable, "manage.py", "reconcile_refunds", "--older-than", "0"],
        cwd=settings.BASE_DIR,
        env=environment(),  # no Stripe key: the sandbox
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Refund {refund.pk}: pending → succeeded (found at the gateway)" in done.stdout
    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id) == (Refund.Status.SUCCEEDED, made.refund_id)
    assert LedgerEntry.objects.filter(refund_id=refund.pk).count() == 1
    assert len(sms_jobs_for(refund)) == 1
    assert SandboxRefund.objects.count() == 1  # found, not made again
    assert_books_balance()
