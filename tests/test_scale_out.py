"""Scale-out on standard parts: two gunicorn web processes and two queue workers on one PostgreSQL.

Nothing is shared between the processes but the database: a login made at one web process is
used at the other, refunds of the same payment are submitted at both at once, staff members
raise the same customer's credits through both, and the workers share out the text messages.
Afterwards: no payment refunded twice, no credit change lost, every text sent once, and
`verify_ledger` clean.
"""

import re
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import requests

from accounts.models import User
from accounts.roles import FINANCE
from notifications.models import SmsMessage
from payments.models import LedgerEntry, Payment
from payments.selectors import ledger_verify
from refunds.models import Refund
from tests.factories import CustomerFactory, PaymentFactory, StaffFactory, purchase_record
from tests.helpers import queue_clear
from tests.processes import environment, free_port, login, wait_ready

PAYMENTS = 12
CREDIT_CLIENTS = 8
CREDIT_RAISES_EACH = 5
DEADLINE_SECONDS = 150  # the whole scenario; it takes about 20 s
JOB_STARTED = re.compile(r"Starting job notifications\.sms_send\[(\d+)\]")
EXPECTED_BALANCE = re.compile(r'name="expected_balance" value="(\d+)"')


def paid(customer: User) -> Payment:
    return purchase_record(PaymentFactory(user=customer))


def htmx_post(session: requests.Session, url: str, data: dict) -> requests.Response:
    headers = {"X-CSRFToken": session.cookies["csrftoken"], "HX-Request": "true"}
    return session.post(url, data, headers=headers, timeout=60)


@pytest.mark.django_db(transaction=True)
def test_two_web_processes_and_two_workers_on_one_database_refund_once_and_lose_no_credit_change(processes):
    deadline = time.monotonic() + DEADLINE_SECONDS
    queue_clear()
    StaffFactory(email="finance@statstak.test", roles=[FINANCE])
    payments = [paid(CustomerFactory()) for _ in range(PAYMENTS)]
    shared = CustomerFactory(credits=0)
    env = environment()

    bases = []
    for name in ("web-a", "web-b"):
        port = free_port()
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        processes.start(
            name, [gunicorn, "-c", "gunicorn.conf.py", "statstak.wsgi"], env | {"GUNICORN_BIND": f"127.0.0.1:{port}"}
        )
        bases.append(f"http://127.0.0.1:{port}")
    worker_logs = [
        processes.start(name, [sys.executable, "manage.py", "procrastinate", "worker", "--name", name], env)
        for name in ("worker-1", "worker-2")
    ]
    for base in bases:
        wait_ready(base, processes, deadline)

    # One login, at web A, used at both: the session lives in PostgreSQL, not in a process.
    session_a = login(bases[0])
    sessions = {bases[0]: session_a, bases[1]: requests.Session()}
    sessions[bases[1]].cookies.update(session_a.cookies)
    served = Counter()
    lock = threading.Lock()
    outcomes: dict[int, list[int]] = {p.pk: [] for p in payments}
    raises: list[int] = []
    errors: list[str] = []

    def refund(payment: Payment, base: str, key: str) -> None:
        """A staff member's tab on `base` executes a full refund of `payment`."""
        session = requests.Session()
        session.cookies.update(session_a.cookies)
        url = f"{base}/users/{payment.user_id}/payments/{payment.pk}/refund/"
        form = {
            "type": "full",
            "reason": "requested_by_customer",
            "credits_to_remove": "0",
            "notify_customer": "on",
            "idempotency_key": key,
            "expected_reserved": "0",
        }
        response = htmx_post(session, url, form)
        with lock:
            served[base] += 1
            outcomes[payment.pk].append(response.status_code)

    def raise_credits(index: int) -> None:
        """A staff member raises the shared customer's credits by one, five times, through
        alternating web processes, reloading the balance on each conflict, as the page does."""
        expected = 0
        done = 0
        while done < CREDIT_RAISES_EACH and time.monotonic() < deadline:
            base = bases[(index + done) % 2]
            response = htmx_post(
                sessions[base],
                f"{base}/users/{shared.pk}/credits/",
                {"credits": str(expected + 1), "expected_balance": str(expected), "note": f"raise {index}"},
            )
            with lock:
                served[base] += 1
            if response.status_code == 200:
                done += 1
                with lock:
                    raises.append(expected + 1)
            elif response.status_code != 409:
                with lock:
                    errors.append(f"credits: HTTP {response.status_code} {response.text[:200]}")
                return
            expected = int(EXPECTED_BALANCE.search(response.text).group(1))

    work = []
    for n, payment in enumerate(payments):
        # Two tabs on two processes, each its own form (key); and a double submit of one form
        # landing on both processes.
        first, second = bases[n % 2], bases[(n + 1) % 2]
        double = uuid.uuid4().hex
        work += [
            threading.Thread(target=refund, args=(payment, first, uuid.uuid4().hex)),
            threading.Thread(target=refund, args=(payment, second, double)),
            threading.Thread(target=refund, args=(payment, first, double)),
        ]
    work += [threading.Thread(target=raise_credits, args=(i,)) for i in range(CREDIT_CLIENTS)]
    for thread in work:
        thread.start()
    for thread in work:
        thread.join(timeout=max(deadline - time.monotonic(), 1))
    assert not any(thread.is_alive() for thread in work), "a request hung (deadlock?)"
    assert not errors, errors

    # Every succeeded refund has its text; the workers send them all.
    succeeded = Refund.objects.filter(status=Refund.Status.SUCCEEDED)
    while time.monotonic() < deadline:
        if not SmsMessage.objects.exclude(status=SmsMessage.Status.SENT).exists() and SmsMessage.objects.count() >= len(
            succeeded
        ):
            break
        time.sleep(0.2)
    processes.stop("worker-1")
    processes.stop("worker-2")

    # Both web processes did their share.
    assert served[bases[0]] > 0 and served[bases[1]] > 0, served
    # No double refund: each payment refunded once, in full, whoever submitted what where.
    for payment in payments:
        payment.refresh_from_db()
        refunds = list(Refund.objects.filter(payment=payment))
        assert [r.status for r in refunds] == [Refund.Status.SUCCEEDED], (payment.pk, refunds, outcomes[payment.pk])
        assert payment.amount_refunded == payment.amount
        assert payment.status == Payment.Status.REFUNDED
        # The double submit showed the same refund twice; the other tab was told it was too late.
        assert sorted(outcomes[payment.pk]) in ([200, 200, 409], [200, 200, 422], [200, 409, 409]), outcomes
    # No lost credit update: every raise that was confirmed is in the balance and in the ledger.
    shared.refresh_from_db()
    assert len(raises) == CREDIT_CLIENTS * CREDIT_RAISES_EACH
    assert sorted(raises) == list(range(1, CREDIT_CLIENTS * CREDIT_RAISES_EACH + 1))
    assert shared.credits == CREDIT_CLIENTS * CREDIT_RAISES_EACH
    assert LedgerEntry.objects.filter(user=shared, kind=LedgerEntry.Kind.ADJUSTMENT).count() == len(raises)
    # Every text sent once: one message per refund, sent at the first attempt, its job started once.
    messages = list(SmsMessage.objects.all())
    assert sorted(m.about_id for m in messages) == sorted(r.pk for r in succeeded)
    assert {(m.status, m.attempts) for m in messages} == {(SmsMessage.Status.SENT, 1)}, processes.logs()
    started = [job for log in worker_logs for job in JOB_STARTED.findall(log.read_text())]
    assert len(started) == len(set(started)) == len(messages)
    assert all(JOB_STARTED.search(log.read_text()) for log in worker_logs) or len(messages) < 4
    # And the ledger explains every balance.
    assert ledger_verify().mismatch_count == 0
    queue_clear()
