"""Demo data written in bulk: customers and the ledger entries that explain their balances."""

from django.db import connection

from accounts.demo import COLUMNS, demo_customers
from accounts.models import User
from payments.models import LedgerEntry


def demo_customers_insert(count: int, progress=None, batch_size: int = 50_000) -> int:
    """Insert the first `count` demo customers that are missing; return how many were new.

    Each batch is COPied into a temporary table, then one statement inserts the customers that
    are not there yet (by email) and an `opening` ledger entry for each positive balance, in the
    same transaction, so `verify_ledger` holds at every commit. A million customers take a
    minute or two, and a second run inserts nothing.
    """
    users = User._meta.db_table
    ledger = LedgerEntry._meta.db_table
    columns = ", ".join(COLUMNS)
    created = 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE TEMP TABLE IF NOT EXISTS demo_customers (
                email text, first_name text, last_name text, phone text, credits bigint,
                date_joined timestamptz
            ) ON COMMIT DELETE ROWS
            """
        )
        rows = demo_customers(count)
        while True:
            batch = [row for _, row in zip(range(batch_size), rows, strict=False)]
            if not batch:
                break
            with connection.connection.transaction():
                with cursor.connection.cursor().copy(f"COPY demo_customers ({columns}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
                cursor.execute(
                    f"""
                    WITH inserted AS (
                        INSERT INTO {users} ({columns}, password, is_superuser, is_staff, is_active)
                        SELECT {columns}, '!', false, false, true FROM demo_customers
                        ON CONFLICT ((lower(email))) DO NOTHING
                        RETURNING id, credits, date_joined
                    ),
                    opened AS (
                        INSERT INTO {ledger} (user_id, kind, credits_delta, currency, balance_after,
                                              note, correlation_id, created_at)
                        SELECT id, %s, credits, '', credits, 'Opening balance (demo data)', '', date_joined
                        FROM inserted WHERE credits > 0
                    )
                    SELECT COUNT(*) FROM inserted
                    """,
                    [LedgerEntry.Kind.OPENING.value],
                )
                created += cursor.fetchone()[0]
            if progress is not None:
                progress.update(len(batch))
    return created
