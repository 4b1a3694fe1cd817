"""Concurrency soak: threads on their own connections do random money work on a few customers and
payments for a fixed time (credit edits fresh and stale, refunds of every type and amount on every
sandbox behaviour, duplicate submits, approvals and rejections, reconciliation), then every rule
of the books must hold.

SOAK_SECONDS sets how long (CI: a few seconds); `make soak` runs it longer. The seed is printed and
SOAK_SEED replays the same choices (thread timing still varies: that is the point of a soak).
"""

import os
import random
import threading
import time
import uuid
from collections import Counter

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from accounts.models import User
from accounts.roles import FINANCE, SUPPORT
from books.checks import books_verify
from payments.models import Payment
from payments.services import CreditsConflict, CreditsRefused, credits_adjust
from refunds.models import Refund
from refunds.services import RefundRefused, refund_approve, refund_execute, refund_reject, refunds_reconcile
from tests.factories import CustomerFactory, PaymentFactory, StaffFactory, purchase_record

pytestmark = pytest.mark.django_db(transaction=True)

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "6"))
THREADS = 6
SCENARIOS = ["test", "test", "pending", "faillater", "timeout", "decline"]
# What a refusal may look like; anything else a thread meets is a failure of the soak.
EXPECTED = (RefundRefused, CreditsConflict, CreditsRefused, PermissionDenied)


@pytest.fixture
def people(settings):
    settings.REFUND_APPROVAL_THRESHOLD = 4000  # some refunds wait for a second person
    settings.REFUND_DAILY_CAP = 10**9
    settings.RECONCILE_AFTER_SECONDS = 0
    customers = [CustomerFactory(phone="+12025550143") for _ in range(3)]
    payments = []
    for customer in customers:
        for scenario in SCENARIOS:
            amount = random.choice([999, 5000, 10000])
            payment = PaymentFactory(user=customer, gateway_id=f"pi_sandbox_{scenario}_{uuid.uuid4().hex[:12]}",
                                     amount=amount, credits_bought=amount // 20)  # fmt: skip
            payments.append(purchase_record(payment) or payment)
    finance = [StaffFactory(roles=[FINANCE]) for _ in range(2)]
    support = StaffFactory(roles=[SUPPORT])
    return customers, payments, finance, support


def test_random_money_work_in_threads_keeps_every_rule_of_the_books(people):
    customers, payments, finance, support = people
    seed = int(os.environ.get("SOAK_SEED", random.randrange(2**32)))
    print(f"soak seed {seed}, {SOAK_SECONDS} s, {THREADS} threads")
    deadline = time.monotonic() + SOAK_SECONDS
    done: Counter = Counter()
    failures: list[BaseException] = []
    lock = threading.Lock()

    def credits_edit(rng: random.Random) -> str:
        customer = User.objects.get(pk=rng.choice(customers).pk)
        seen = customer.credits if rng.random() < 0.7 else max(customer.credits - rng.randint(1, 5), 0)  # stale
        actor = rng.choice([support, *finance])
        credits_adjust(
            user=customer, new_balance=max(seen + rng.randint(-50, 80), 0), expected_balance=seen, actor=actor
        )
        return "credits"

    def refund(rng: random.Random) -> str:
        payment = Payment.objects.get(pk=rng.choice(payments).pk)
        remaining = payment.amount - payment.amount_refunded
        key = uuid.uuid4().hex
        arguments = dict(
            payment=payment,
            type=rng.choice([Refund.Type.FULL, Refund.Type.PARTIAL, Refund.Type.CREDITS]),
            amount=rng.randint(1, max(int(remaining * 1.2), 2)),
            reason=rng.choice(list(Refund.Reason)),
            note="soak",
            actor=rng.choice(finance),
            idempotency_key=key,
            credits_to_remove=rng.choice([0, 0, 5, 10**6]),
        )
        first = refund_execute(**arguments)
        if rng.random() < 0.2:  # a double submit of the same form: the same refund, never another
            again = refund_execute(**arguments)
            assert again.pk == first.pk
        return "refund"

    def decide(rng: random.Random) -> str:
        waiting = list(Refund.objects.filter(status=Refund.Status.AWAITING_APPROVAL).values_list("pk", flat=True)[:5])
        if not waiting:
            return "nothing to decide"
        waiting_refund = Refund.objects.get(pk=rng.choice(waiting))
        approver = rng.choice(finance)
        if rng.random() < 0.7:
            refund_approve(refund=waiting_refund, approver=approver)
            return "approve"
        refund_reject(refund=waiting_refund, approver=approver, reason="soak")
        return "reject"

    def reconcile(rng: random.Random) -> str:
        refunds_reconcile()
        return "reconcile"

    operations = [credits_edit, refund, refund, decide, reconcile]

    def worker(index: int) -> None:
        rng = random.Random(seed + index)
        try:
            while time.monotonic() < deadline:
                operation = rng.choice(operations)
                try:
                    outcome = operation(rng)
                except EXPECTED as refusal:
                    outcome = f"refused: {type(refusal).__name__}"
                with lock:
                    done[outcome] += 1
        except BaseException as error:  # a failure of the soak: kept and reported
            with lock:
                failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SOAK_SECONDS + 120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    assert failures == [], (seed, failures)
    # Else the soak proved nothing: it must have done real work of each kind.
    assert done["refund"] > 0 and done["credits"] > 0, done
    print(dict(done))

    refunds_reconcile()  # what the periodic job does next: settle what the gateway knows
    report = books_verify()
    assert report.offender_count == 0, (seed, report.offenders[:10])
