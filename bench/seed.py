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
from audit.models import AuditEvent
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
SEARCH_INDEX = "accounts_user_search_text_trgm"
# Built once on top of the base data, each recorded in `bench_extras` (not part of SEED_VERSION, so
# adding them does not rebuild the million customers):
# customers with 20,000 and 100,000 payments (the Payments tab's growth) ...
LONG_PAYMENTS = {
    20_000: "pia.payments20k@bench-customers.example",
    100_000: "paco.payments100k@bench-customers.example",
}
LONG_PAYMENTS_REFUNDED = 20
# ... and an audit trail of two million events, by 20 staff members over two years.
AUDIT_EVENTS = 2_000_000
AUDIT_STAFF = 20
AUDIT_STAFF_DOMAIN = "bench-staff.example"
AUDIT_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) bench"
AUDIT_BUSY_CUSTOMER_SHARE = 100  # one event in this many is about the many-payments customer


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


def many_payments_customer_insert(
    staff: User,
    *,
    email: str = MANY_PAYMENTS_EMAIL,
    first: str = "Mona",
    last: str = "Manypayments",
    count: int = MANY_PAYMENTS,
    refunded: int = MANY_PAYMENTS_REFUNDED,
) -> None:
    """A customer with `count` payments (each with its purchase entry), `refunded` of them partly
    refunded. The payments span about four years whatever their number. Resumes a customer whose
    payments were written but not their refunds (an interrupted build)."""
    customer = User.objects.filter(email=email).first()
    if customer is None or not Payment.objects.filter(user=customer).exists():
        customer = customer or _user_insert(email, first, last, 1500)
        _payments_insert(customer, email=email, count=count)
    if not refunded or Refund.objects.filter(payment__user=customer).exists():
        return
    # Real refunds through the service (sandbox gateway), so that the Payments tab counts refunds
    # as it would in production: $1.00 back, no credits taken, no SMS.
    payments = list(Payment.objects.filter(user=customer).order_by("id"))
    for payment in payments[:: count // refunded][:refunded]:
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


def _payments_insert(customer: User, *, email: str, count: int) -> None:
    packs, params = _packs_sql()
    spacing = 126_000_000 // count  # seconds between two payments: ~4 years in all
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH {packs},
            inserted AS (
                INSERT INTO payments_payment (user_id, gateway, gateway_id, description, amount, currency,
                                              credits_bought, amount_refunded, status, created_at)
                SELECT %(user)s, 'sandbox', %(prefix)s || n, p.description, p.amount, p.currency, p.credits,
                       0, 'succeeded', %(since)s::timestamptz + n * %(spacing)s * interval '1 second'
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
            | {
                "user": customer.pk,
                "prefix": "pi_bench_many_" if email == MANY_PAYMENTS_EMAIL else f"pi_bench_long{count}_",
                "since": EPOCH - timedelta(seconds=spacing * count),
                "spacing": spacing,
                "count": count,
            },
        )
        cursor.execute(
            "UPDATE accounts_user SET credits ="
            " (SELECT SUM(credits_delta) FROM payments_ledgerentry WHERE user_id = %s) WHERE id = %s",
            [customer.pk, customer.pk],
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


# --- extras: built once on the base data, recorded in bench_extras -------------------------------


def _extras_done() -> dict[str, float]:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_extras (name text PRIMARY KEY, seconds float, built_at timestamptz)"
        )
        cursor.execute("SELECT name, seconds FROM bench_extras")
        return dict(cursor.fetchall())


def _extra_record(name: str, seconds: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_extras VALUES (%s, %s, now()) ON CONFLICT (name) DO NOTHING", [name, seconds])


def audit_staff() -> list[User]:
    """The 20 staff members the audit trail's events are by (created once)."""
    names = ["Ada", "Ben", "Cleo", "Dev", "Eve", "Finn", "Gia", "Hal", "Ines", "Jon"]
    members = []
    for n in range(AUDIT_STAFF):
        email = f"auditor{n:02d}@{AUDIT_STAFF_DOMAIN}"
        member = User.objects.filter(email=email).first() or User.objects.create_user(
            email, None, first_name=names[n % len(names)], last_name=f"Auditor{n:02d}", is_staff=True
        )
        members.append(member)
    return members


def audit_events_insert(total: int, progress: tqdm) -> None:
    """`total` audit events over two years up to EPOCH, in id order as they would be written: by
    the 20 audit staff (or the system, one in ten), about random customers (one in
    AUDIT_BUSY_CUSTOMER_SHARE about the many-payments customer), actions by a skewed mix."""
    from audit.actions import audit_action_choices

    staff = audit_staff()
    busy = User.objects.get(email=MANY_PAYMENTS_EMAIL)
    actions = [value for value, _ in audit_action_choices()]
    spacing = 2 * 365 * 86400 / total  # seconds between two events
    batch = 250_000
    # Resumable: each batch is a transaction of its own, so what is there is whole batches.
    done = AuditEvent.objects.filter(user_agent=AUDIT_USER_AGENT).count()
    progress.update(done)
    for first in range(done, total, batch):
        last = min(first + batch, total) - 1
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                """
                WITH staff (k, id, label) AS (SELECT * FROM unnest(%(staff_k)s::int[], %(staff_id)s::bigint[],
                                                                  %(staff_label)s::text[])),
                     actions (k, action) AS (SELECT * FROM unnest(%(action_k)s::int[], %(actions)s::text[]))
                INSERT INTO audit_auditevent (created_at, actor_id, actor_label, action, target_user_id, about_type_id,
                                              about_id, before, after, ip_address, user_agent, correlation_id)
                SELECT %(start)s::timestamptz + n * %(spacing)s * interval '1 second',
                       CASE WHEN n %% 10 = 0 THEN NULL ELSE s.id END,
                       CASE WHEN n %% 10 = 0 THEN 'Stripe' ELSE s.label END,
                       a.action,
                       CASE WHEN n %% %(busy_share)s = 0 THEN %(busy)s
                            WHEN n %% 7 = 0 THEN NULL
                            ELSE 1 + (n::bigint * 7919) %% %(customers)s END,
                       NULL, NULL,
                       CASE WHEN n %% 3 = 0 THEN jsonb_build_object('credits', n %% 1000) END,
                       CASE WHEN n %% 3 = 0 THEN jsonb_build_object('credits', n %% 1000 + 50, 'note', 'bench') END,
                       ('203.0.113.' || (n %% 250))::inet,
                       %(user_agent)s,
                       md5(n::text)
                FROM generate_series(%(first)s, %(last)s) AS n
                JOIN staff s ON s.k = n %% %(staff_count)s
                -- a skewed mix: the first actions are the common ones
                JOIN actions a
                  ON a.k = least(floor(-ln(1 - ((n::bigint * 2654435761) %% 1000003) / 1000003.0) * 4)::int,
                                 %(action_count)s - 1)
                ORDER BY n
                """,
                {
                    "staff_k": list(range(len(staff))),
                    "staff_id": [m.pk for m in staff],
                    "staff_label": [m.full_name for m in staff],
                    "action_k": list(range(len(actions))),
                    "actions": actions,
                    "start": EPOCH - timedelta(days=2 * 365),
                    "spacing": spacing,
                    "busy_share": AUDIT_BUSY_CUSTOMER_SHARE,
                    "busy": busy.pk,
                    "customers": CUSTOMERS,  # the demo customers' ids are 1 to CUSTOMERS (the first COPY)
                    "first": first,
                    "last": last,
                    "user_agent": AUDIT_USER_AGENT,
                    "staff_count": len(staff),
                    "action_count": len(actions),
                },
            )
        progress.update(last - first + 1)


def extras_ensure(staff: User) -> dict[str, float]:
    """The data the flat-cost scenarios need beyond the base: built once, then reused."""
    done = _extras_done()
    for count, email in LONG_PAYMENTS.items():
        name = f"customer with {count:,} payments"
        if name in done:
            continue
        started = time.perf_counter()
        first, last = ("Pia", "Paymentstwenty") if count < 50_000 else ("Paco", "Paymentshundred")
        many_payments_customer_insert(
            staff, email=email, first=first, last=last, count=count, refunded=LONG_PAYMENTS_REFUNDED
        )
        _extra_record(name, time.perf_counter() - started)
        print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)
    name = f"{AUDIT_EVENTS:,} audit events"
    if name not in done:
        started = time.perf_counter()
        with tqdm(total=AUDIT_EVENTS, unit=" events", desc="audit events (SQL)", mininterval=5) as progress:
            audit_events_insert(AUDIT_EVENTS, progress)
        _vacuum(["audit_auditevent"])
        _extra_record(name, time.perf_counter() - started)
        print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)
    _vacuum([User._meta.db_table, Payment._meta.db_table, LedgerEntry._meta.db_table])
    return _extras_done()
