"""The refund service's locks, all in one place, so that they are always taken in one order.

Advisory locks (PostgreSQL's, on a (namespace, key) pair); every namespace is a constant here, so
no two uses of them can collide:
- `IDEMPOTENCY_LOCKS`, keyed by a form's idempotency key: held by `refund_execute` across all its
  phases, outside any transaction, so a second submit of one form waits for the first to finish.
- `REFUND_LOCKS`, keyed by a refund's id: held while the refund's request is at the gateway, so
  reconciliation skips it rather than asking the gateway about it at the same moment.
- `DAILY_CAP_LOCKS`, keyed by a staff member's id: transaction-level, taken in the reserve phase,
  so two refunds one person requests at once cannot both slip under the daily cap.
- `CUSTOMER_REFUNDS_LOCKS`, keyed by the customer's id: transaction-level, taken in the reserve
  phase, so two refunds on one customer (two tabs, two staff members, two payments) cannot both
  be judged under the cumulative approval threshold against totals that leave out the other.
- payments' own (`payments.services.locks`, which cannot import this module):
  `CREDITS_STAFF_DAY_LOCKS`, one staff member's credit changes against Support's daily limit,
  taken under the customer's row lock and never held while waiting for anything else.

The transaction-level ones are taken with `payments.services.locks.advisory_xact_lock`.

Row locks (`select_for_update`) are taken by `refund_rows_lock` and nothing else, always in the
order payment → refund → user, so two refunds, or a refund and a credits change, can wait for
each other but never deadlock.

Lock order, outermost first: a form's idempotency lock → a refund's lock → the rows (payment →
refund → user); under the payment's row lock, the customer's refunds lock, then the daily-cap lock,
last; nothing waits for a row while holding either.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import DatabaseError, connection

from accounts.models import User
from payments.models import Payment
from payments.services.locks import CREDITS_STAFF_DAY_LOCKS
from refunds.models import Refund

# Advisory-lock namespaces (the first half of PostgreSQL's two-part key).
REFUND_LOCKS = 0x5EF0  # one refund's request at the gateway
DAILY_CAP_LOCKS = 0x5EF1  # one staff member's refunds against the daily cap
IDEMPOTENCY_LOCKS = 0x5EF2  # one form's submits (its idempotency key)
CUSTOMER_REFUNDS_LOCKS = 0x5EF3  # one customer's refunds against the cumulative approval rules
# Every namespace in use, payments' too: no two may share a number.
ADVISORY_NAMESPACES = (
    REFUND_LOCKS,
    DAILY_CAP_LOCKS,
    IDEMPOTENCY_LOCKS,
    CUSTOMER_REFUNDS_LOCKS,
    CREDITS_STAFF_DAY_LOCKS,
)
assert len(set(ADVISORY_NAMESPACES)) == len(ADVISORY_NAMESPACES), "two advisory-lock namespaces collide"


@contextmanager
def advisory_lock(namespace: int, key: int | str, *, wait: bool = True) -> Iterator[bool]:
    """A session-level advisory lock on (namespace, key), held outside any transaction so that it
    spans a refund's phases. Yields whether this session holds it: with `wait=False`, False at
    once when another session does. A string key is hashed by PostgreSQL."""
    if connection.in_atomic_block:
        raise RuntimeError("This lock spans the refund's phases; take it outside any transaction.")
    key_sql = "hashtext(%s)" if isinstance(key, str) else "%s"
    function = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, {key_sql})", [namespace, key])
        held = cursor.fetchone()[0] is not False  # pg_advisory_lock returns nothing: it waited
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT pg_advisory_unlock(%s, {key_sql})", [namespace, key])
            except DatabaseError:
                # The connection is gone, and its session's locks with it: nothing to release,
                # and the error that took it away is the one the caller must see.
                pass


@dataclass(frozen=True)
class RefundRows:
    """The rows a refund writer holds locked until its transaction ends."""

    payment: Payment
    refund: Refund | None = None
    customer: User | None = None


def refund_rows_lock(*, payment_id: int, refund_id: int | None = None, customer: bool = False) -> RefundRows:
    """Lock a payment's row, then one of its refunds' (with `refund_id`), then its customer's (with
    `customer`), in that order and no other: the lock order of every refund writer.

    The payment's lock is what serialises everything done to its refunds: the amount that remains
    refundable, a refund's status, the payment's totals. The customer's is taken last, only by
    writers that move the customer's credits (a refund that succeeds, one reversed).

    The locked rows come linked (`refund.payment`, `payment.user`), so that reading them later does
    not load copies that are not locked. Inside the caller's transaction only.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("Row locks last until the transaction ends; take them inside one.")
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    refund = None
    if refund_id is not None:
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.payment_id != payment.pk:
            raise ValueError(f"Refund {refund_id} is not a refund of payment {payment_id}.")
        refund.payment = payment
    locked_customer = None
    if customer:
        locked_customer = User.objects.select_for_update().get(pk=payment.user_id)
        payment.user = locked_customer
    return RefundRows(payment=payment, refund=refund, customer=locked_customer)
