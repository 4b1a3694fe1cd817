"""The benchmark database: 1,000,000 customers, 3,000,000 payments and the ledger that explains
every balance, plus two customers with long histories for the profile tabs.

Built once and reused: a marker table (`bench_seed`) records that seeding finished and with which
version of this module. A bench database without the marker (an older benchmark's, or a run that
was interrupted) is dropped and built again, so a half-built database is never measured.

1. Customers: `payments.demo.demo_customers_insert`, the COPY-based seeding behind `seed_demo`
   (about 1.1 payments a customer, with their purchase and usage ledger entries).
2. Two customers for the profile tabs: one with 500 payments (50 of them partly refunded through
   the real refund service), one with 10,000 ledger entries and 120 text messages.
3. More payments, to 3,000,000 in all, written by SQL (`generate_series`, INSERT … SELECT) in
   batches of customers: each payment with its `purchase` ledger entry, its running
   `balance_after`, and the customer's balance moved in the same transaction, so `verify_ledger`
   holds at every commit.

The users table's trigram index is dropped while balances move and rebuilt afterwards (from its
own definition in `pg_indexes`): updating a million rows under a GIN index is the slow part of a
bulk load, as in any production backfill.
"""

import json
import time
from dataclasses import dataclass
from datetime import timedelta

from django.core.management import call_command
from django.db import connection, transaction
from tqdm import tqdm

from accounts.demo import EPOCH
from accounts.models import User
from notifications.models import SmsMessage
from payments.demo import PACKS, demo_customers_insert
from payments.models import LedgerEntry, Payment
from payments.selectors import ledger_verify
from refunds.models import Refund
from refunds.services import refund_execute

SEED_VERSION = "3"  # bump when the data's shape changes: older bench databases are rebuilt
CUSTOMERS = 1_000_000
PAYMENTS = 3_000_000
BATCH_CUSTOMERS = 100_000
# The profile tabs' customers (their own domain: no demo email ends in it).
MANY_PAYMENTS_EMAIL = "mona.manypayments@bench-customers.example"
MANY_PAYMENTS = 500
MANY_PAYMENTS_REFUNDED = 50
LONG_HISTORY_EMAIL = "lorenzo.longhistory@bench-customers.example"
LONG_HISTORY_ENTRIES = 10_000  # 1,000 purchases, each followed by 9 uses of credits
LONG_HISTORY_MESSAGES = 120
SEARCH_INDEX = "accounts_user_search_trgm"


@dataclass
class SeedReport:
    rebuilt: bool  # the database was (re)built by this run
    seconds: dict[str, float]  # step → seconds, for the steps this run did
    users: int
    payments: int
    ledger_entries: int
    refunds: int
    verify_seconds: float
    verify_mismatches: int
    seeded_at: str  # when the data was built (this run or an earlier one)
    previous_seconds: dict[str, float] | None  # the run that built it, when this one reused it


def _scalar(sql: str, params: list | None = None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        row = cursor.fetchone()
    return row[0] if row else None


def marker_read() -> dict | None:
    if _scalar("SELECT to_regclass('bench_seed')") is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT version, seeded_at::text, seconds::text FROM bench_seed ORDER BY seeded_at DESC LIMIT 1")
        row = cursor.fetchone()
    if row is None:
        return None
    seconds = json.loads(row[2])
    # Steps in order: a list of [step, seconds] (a JSON object's keys are reordered by jsonb).
    return {"version": row[0], "seeded_at": row[1], "seconds": dict(seconds) if isinstance(seconds, list) else seconds}


def marker_write(version: str, seconds: dict[str, float]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_seed (version text, seeded_at timestamptz DEFAULT now(), seconds jsonb)"
        )
        cursor.execute("DELETE FROM bench_seed")
        cursor.execute(
            "INSERT INTO bench_seed (version, seconds) VALUES (%s, %s)", [version, json.dumps(list(seconds.items()))]
        )


def database_recreate() -> None:
    """Drop and create the bench database (its name is checked to end in 'bench' by bench.settings)."""
    name = connection.settings_dict["NAME"]
    assert str(name).endswith("bench")
    connection.close()
    with connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')


def _step(seconds: dict[str, float], name: str, started: float) -> None:
    seconds[name] = round(time.perf_counter() - started, 1)
    print(f"  {name}: {seconds[name]:.1f} s", flush=True)


def _user_insert(email: str, first: str, last: str, joined_days_ago: int) -> User:
    return User.objects.create_user(
        email,
        None,
        first_name=first,
        last_name=last,
        phone="+12025550199",
        date_joined=EPOCH - timedelta(days=joined_days_ago),
    )


def _packs_sql() -> tuple[str, dict]:
    """The demo's credit packs as a VALUES list (k, description, amount, currency, credits)."""
    rows, params = [], {}
    for k, (description, amount, currency, credits) in enumerate(PACKS):
        rows.append(f"({k}, %(d{k})s, %(a{k})s, %(c{k})s, %(n{k})s)")
        params |= {f"d{k}": description, f"a{k}": amount, f"c{k}": currency, f"n{k}": credits}
    return f"packs (k, description, amount, currency, credits) AS (VALUES {', '.join(rows)})", params


def many_payments_customer_insert(staff: User) -> None:
    """A customer with 500 payments (each with its purchase entry), 50 of them partly refunded."""
    customer = _user_insert(MANY_PAYMENTS_EMAIL, "Mona", "Manypayments", 1500)
    packs, params = _packs_sql()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH {packs},
            inserted AS (
                INSERT INTO payments_payment (user_id, gateway, gateway_id, description, amount, currency,
                                              credits_bought, amount_refunded, status, created_at)
                SELECT %(user)s, 'sandbox', 'pi_bench_many_' || n, p.description, p.amount, p.currency, p.credits,
                       0, 'succeeded', %(since)s::timestamptz + n * interval '70 hours'
                FROM generate_series(1, %(count)s) AS n JOIN packs p ON p.k = n %% {len(PACKS)}
                ORDER BY n
                RETURNING id, user_id, description, amount, currency, credits_bought, created_at
            )
            INSERT INTO payments_ledgerentry (user_id, kind, credits_delta, money_delta, currency, balance_after,
                                              note, created_at, correlation_id, payment_id)
            SELECT user_id, 'purchase', credits_bought, amount, currency,
                   SUM(credits_bought) OVER (ORDER BY id), description, created_at, '', id
            FROM inserted ORDER BY id
            """,
            params
            | {"user": customer.pk, "since": EPOCH - timedelta(hours=70 * MANY_PAYMENTS), "count": MANY_PAYMENTS},
        )
        cursor.execute(
            "UPDATE accounts_user SET credits ="
            " (SELECT SUM(credits_delta) FROM payments_ledgerentry WHERE user_id = %s) WHERE id = %s",
            [customer.pk, customer.pk],
        )
    # Real refunds through the service (sandbox gateway), so that the Payments tab counts refunds
    # as it would in production: every tenth payment, $1.00 back, no credits taken, no SMS.
    payments = list(Payment.objects.filter(user=customer).order_by("id"))
    for payment in payments[:: MANY_PAYMENTS // MANY_PAYMENTS_REFUNDED]:
        refund_execute(
            payment=payment,
            type=Refund.Type.PARTIAL,
            amount=100,
            reason=Refund.Reason.REQUESTED_BY_CUSTOMER,
            note="",
            actor=staff,
            idempotency_key=f"bench-seed-{payment.pk}",
            notify_customer=False,
        )


def long_history_customer_insert() -> None:
    """A customer with 10,000 ledger entries: 1,000 purchases, each followed by 9 uses of 10 credits."""
    customer = _user_insert(LONG_HISTORY_EMAIL, "Lorenzo", "Longhistory", 1800)
    groups = LONG_HISTORY_ENTRIES // 10
    description, amount, currency, credits = PACKS[0]  # 100 credits
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO payments_payment (user_id, gateway, gateway_id, description, amount, currency,
                                          credits_bought, amount_refunded, status, created_at)
            SELECT %s, 'sandbox', 'pi_bench_long_' || g, %s, %s, %s, %s, 0, 'succeeded',
                   %s::timestamptz + g * interval '40 hours'
            FROM generate_series(0, %s - 1) AS g ORDER BY g
            """,
            [customer.pk, description, amount, currency, credits, EPOCH - timedelta(hours=40 * groups), groups],
        )
        # Group g: the purchase (+100), then 9 uses of 10: each group ends the balance 10 higher.
        cursor.execute(
            """
            INSERT INTO payments_ledgerentry (user_id, kind, credits_delta, money_delta, currency, balance_after,
                                              note, created_at, correlation_id, payment_id)
            SELECT %(user)s,
                   CASE WHEN k = 0 THEN 'purchase' ELSE 'usage' END,
                   CASE WHEN k = 0 THEN %(credits)s ELSE -10 END,
                   CASE WHEN k = 0 THEN p.amount END,
                   CASE WHEN k = 0 THEN p.currency ELSE '' END,
                   g * 10 + %(credits)s - 10 * k,
                   CASE WHEN k = 0 THEN p.description ELSE 'Credits used' END,
                   p.created_at + k * interval '3 hours', '',
                   CASE WHEN k = 0 THEN p.id END
            FROM generate_series(0, %(groups)s - 1) AS g
            CROSS JOIN generate_series(0, 9) AS k
            JOIN payments_payment p ON p.gateway = 'sandbox' AND p.gateway_id = 'pi_bench_long_' || g
            ORDER BY g, k
            """,
            {"user": customer.pk, "credits": credits, "groups": groups},
        )
        cursor.execute("UPDATE accounts_user SET credits = %s WHERE id = %s", [groups * 10, customer.pk])
    SmsMessage.objects.bulk_create(
        SmsMessage(
            user=customer,
            to=customer.phone,
            body=f"StatStak Labs: notice #{n} about your account.",
            status=SmsMessage.Status.SENT,
            provider="console",
            provider_message_id=f"console-bench-{n}",
            attempts=1,
            created_at=EPOCH - timedelta(hours=n),
            sent_at=EPOCH - timedelta(hours=n),
        )
        for n in range(LONG_HISTORY_MESSAGES)
    )


def payments_top_up(total: int, progress: tqdm) -> None:
    """More payments, to `total` in all: every customer gets `extra // customers` more, and a
    fixed, spread-out subset one more, so that the count is exact. In batches of customers, one
    transaction each: payments, purchase entries with running balances, balances moved."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_customers")
        cursor.execute(
            """
            CREATE TEMP TABLE bench_customers AS
            SELECT row_number() OVER (ORDER BY id) AS rn, id FROM accounts_user
            WHERE NOT is_staff AND email NOT LIKE %s
            """,
            ["%@bench-customers.example"],
        )
        cursor.execute("CREATE INDEX ON bench_customers (rn)")
        cursor.execute("ANALYZE bench_customers")
        cursor.execute("SELECT count(*) FROM bench_customers")
        customers = cursor.fetchone()[0]
    extra = total - Payment.objects.count()
    if extra <= 0:
        return
    progress.reset(total=extra)
    base, remainder = divmod(extra, customers)
    packs, pack_params = _packs_sql()
    for first in range(1, customers + 1, BATCH_CUSTOMERS):
        last = min(first + BATCH_CUSTOMERS - 1, customers)
        params = pack_params | {
            "base": base,
            "remainder": remainder,
            "customers": customers,
            "first": first,
            "last": last,
            "epoch": EPOCH,
        }
        with transaction.atomic(), connection.cursor() as cursor:
            # (rn * 7919) mod customers is a permutation of the customers (7919 is a prime that
            # divides no count used here), so exactly `remainder` of them get one payment more.
            cursor.execute(
                f"""
                CREATE TEMP TABLE bench_batch ON COMMIT DROP AS
                WITH {packs}
                SELECT c.id AS user_id, c.rn, s.n AS k, p.description, p.amount, p.currency, p.credits
                FROM bench_customers c
                CROSS JOIN LATERAL generate_series(
                    1, %(base)s + CASE WHEN (c.rn * 7919) %% %(customers)s < %(remainder)s THEN 1 ELSE 0 END
                ) AS s (n)
                JOIN packs p ON p.k = (c.rn + s.n) %% {len(PACKS)}
                WHERE c.rn BETWEEN %(first)s AND %(last)s
                """,
                params,
            )
            cursor.execute(
                """
                WITH inserted AS (
                    INSERT INTO payments_payment (user_id, gateway, gateway_id, description, amount, currency,
                                                  credits_bought, amount_refunded, status, created_at)
                    SELECT user_id, 'sandbox', 'pi_bench_' || rn || '_' || k, description, amount, currency,
                           credits, 0, 'succeeded',
                           %(epoch)s::timestamptz + ((rn * 7919) %% 1000000) * interval '1 second'
                                                  + k * interval '1 day'
                    FROM bench_batch
                    ORDER BY user_id, k
                    RETURNING id, user_id, description, amount, currency, credits_bought, created_at
                )
                INSERT INTO payments_ledgerentry (user_id, kind, credits_delta, money_delta, currency,
                                                  balance_after, note, created_at, correlation_id, payment_id)
                SELECT i.user_id, 'purchase', i.credits_bought, i.amount, i.currency,
                       u.credits + SUM(i.credits_bought) OVER (PARTITION BY i.user_id ORDER BY i.id),
                       i.description, i.created_at, '', i.id
                FROM inserted i JOIN accounts_user u ON u.id = i.user_id
                ORDER BY i.user_id, i.id
                """,
                params,
            )
            cursor.execute(
                """
                UPDATE accounts_user u SET credits = u.credits + s.bought
                FROM (SELECT user_id, SUM(credits) AS bought FROM bench_batch GROUP BY user_id) s
                WHERE u.id = s.user_id
                """
            )
            cursor.execute("SELECT count(*) FROM bench_batch")
            progress.update(cursor.fetchone()[0])


def _search_index_definition() -> str | None:
    return _scalar("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [SEARCH_INDEX])


def _vacuum(tables: list[str], *, full: bool = False) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ({'FULL, ' if full else ''}ANALYZE) {table}")


def database_seed(
    *, staff_get, fresh: bool = False, customers: int = CUSTOMERS, payments: int = PAYMENTS
) -> SeedReport:
    """The bench database, built if it is missing, incomplete or from an older version of this module.

    `staff_get` returns the benchmark's staff member (a superuser), created after migrating.
    """
    version = f"{SEED_VERSION}: {customers} customers, {payments} payments"
    marker = None if fresh else marker_read()
    rebuilt = marker is None or marker.get("version") != version
    seconds: dict[str, float] = {}
    if rebuilt:
        print(f"Building the bench database ({customers:,} customers, {payments:,} payments): minutes.", flush=True)
        started = time.perf_counter()
        database_recreate()
        call_command("migrate", verbosity=0, interactive=False)
        _step(seconds, "migrate", started)

        started = time.perf_counter()
        with tqdm(total=customers, unit=" customers", desc="customers (COPY)", mininterval=2) as progress:
            demo_customers_insert(customers, progress=progress)
        _step(seconds, "customers, their payments and ledger (COPY)", started)

        staff = staff_get()
        started = time.perf_counter()
        many_payments_customer_insert(staff)
        long_history_customer_insert()
        _step(seconds, "the profile tabs' two customers", started)

        started = time.perf_counter()
        index = _search_index_definition()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {SEARCH_INDEX}")
        with tqdm(unit=" payments", desc=f"payments to {payments:,} (SQL)", mininterval=2) as progress:
            payments_top_up(payments, progress)
        _step(seconds, f"payments to {payments:,} with their ledger entries (INSERT ... SELECT)", started)

        started = time.perf_counter()
        # The balance updates left a dead copy of every customer row: compact the table, then
        # rebuild the search index on it, as after any backfill.
        _vacuum([User._meta.db_table], full=True)
        with connection.cursor() as cursor:
            cursor.execute(index)
        _step(seconds, "users table compacted, search index rebuilt", started)
    else:
        call_command("migrate", verbosity=0, interactive=False)
        staff_get()

    # Every run: statistics fresh and the visibility map set, as autovacuum leaves a production
    # database (and no pending list left in the trigram index).
    started = time.perf_counter()
    _vacuum([User._meta.db_table, Payment._meta.db_table, LedgerEntry._meta.db_table, Refund._meta.db_table])
    _step(seconds, "VACUUM (ANALYZE)", started)

    started = time.perf_counter()
    verified = ledger_verify(show=10)
    verify_seconds = time.perf_counter() - started
    print(
        f"  verify_ledger: {verified.users:,} users, {verified.entries:,} entries, "
        f"{verified.mismatch_count} mismatches ({verify_seconds:.1f} s)",
        flush=True,
    )
    if rebuilt:
        if verified.mismatch_count:
            raise RuntimeError(f"The bench data does not match its ledger: {verified.mismatches}")
        marker_write(version, seconds)
    marker = marker_read()
    return SeedReport(
        rebuilt=rebuilt,
        seconds=seconds,
        users=User.objects.filter(is_staff=False).count(),
        payments=Payment.objects.count(),
        ledger_entries=verified.entries,
        refunds=Refund.objects.count(),
        verify_seconds=verify_seconds,
        verify_mismatches=verified.mismatch_count,
        seeded_at=marker["seeded_at"] if marker else "",
        previous_seconds=None if rebuilt else (marker or {}).get("seconds"),
    )
