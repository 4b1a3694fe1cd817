"""The advisory locks of payments' writers, and the order they take them in.

Namespaces are the first half of PostgreSQL's two-part advisory key; refunds' own are listed in
`refunds.services.locks`, which checks that no two collide (payments cannot import refunds).

- `CREDITS_STAFF_DAY_LOCKS`, keyed by a staff member's id: transaction-level, taken by
  `credits_adjust` under the customer's row lock, so that two edits one Support member makes at
  once (on two customers) cannot both slip under the daily limit per staff member. The daily
  limit per customer needs no lock of its own: the customer's row lock already serialises every
  change to that customer.

Order: the customer's row (`select_for_update`) → the staff member's day lock. Nothing waits
for a row while holding the day lock, so it cannot take part in a deadlock.
"""

from django.db import connection

CREDITS_STAFF_DAY_LOCKS = 0x5EF4  # one staff member's credit changes against the daily limit


def advisory_xact_lock(namespace: int, key: int) -> None:
    """A transaction-level advisory lock on (namespace, key): waited for, and released when the
    caller's transaction ends, whichever way it ends."""
    if not connection.in_atomic_block:
        raise RuntimeError("A transaction-level lock outside a transaction would be released at once.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [namespace, key])
