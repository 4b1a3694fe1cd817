"""Demo data written in bulk: customers, their payments, and the ledger that explains their credits.

Everything derives from `accounts.demo.demo_people` and a fixed seed, so the same count always
gives the same data and a second run inserts nothing. Each batch is COPied into temporary
tables and moved into place by a few INSERT … SELECT statements in one transaction, so
`verify_ledger` holds at every commit and a million customers take minutes, not hours.
"""

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from accounts.demo import EPOCH, DemoPerson, demo_people
from payments.models import LedgerEntry, Payment

# (description, amount in minor units, currency, credits)
PACKS = [
    ("Starter pack — 100 credits", 1900, "USD", 100),
    ("Plus pack — 250 credits", 3900, "USD", 250),
    ("Pro pack — 500 credits", 6900, "USD", 500),
    ("Team pack — 2,000 credits", 19900, "USD", 2000),
    ("Plus pack — 250 credits", 3600, "EUR", 250),
    ("Starter pack — 100 credits", 1500, "GBP", 100),
    ("Starter pack — 100 credits", 2900, "JPY", 100),
]
# Payments that show every branch of the refund flow on the sandbox gateway (see SandboxGateway).
FEATURED_PAYMENTS = {
    "elijah.herrick@example.com": [
        ("pi_sandbox_elijah_1", 2, 380),
        ("pi_sandbox_elijah_2", 0, 240),
        ("pi_sandbox_elijah_3", 1, 40),
    ],
    "zoe.bronte@example.net": [
        ("pi_sandbox_pending_zoe_1", 1, 300),
        ("pi_sandbox_decline_zoe_2", 0, 200),
        ("pi_sandbox_faillater_zoe_3", 1, 120),
        ("pi_sandbox_timeout_zoe_4", 0, 60),
    ],
    "jose.nunez@example.org": [("pi_sandbox_jose_1", 6, 90)],
}


@dataclass
class DemoCustomer:
    person: DemoPerson
    payments: list[tuple] = field(default_factory=list)  # (gateway_id, description, amount, currency, credits, at)
    ledger: list[tuple] = field(default_factory=list)  # (gateway_id, kind, credits, money, currency, after, note, at)
    credits: int = 0


def _customer(person: DemoPerson, rng: random.Random) -> DemoCustomer:
    customer = DemoCustomer(person)
    featured = FEATURED_PAYMENTS.get(person.email)
    if featured is not None:
        plan = [(gateway_id, PACKS[pack], EPOCH - timedelta(days=days)) for gateway_id, pack, days in featured]
    else:
        count = rng.choices([0, 1, 2, 3, 4], weights=[40, 30, 15, 10, 5])[0]
        span = max(int((EPOCH - person.date_joined).total_seconds()), 1)
        times = sorted(person.date_joined + timedelta(seconds=rng.randrange(span)) for _ in range(count))
        plan = [(f"pi_sandbox_{person.index:07d}_{n}", rng.choice(PACKS), at) for n, at in enumerate(times)]
    plan.sort(key=lambda item: item[2])
    for gateway_id, (description, amount, currency, credits), at in plan:
        customer.payments.append((gateway_id, description, amount, currency, credits, at))
        customer.credits += credits
        customer.ledger.append(
            (gateway_id, LedgerEntry.Kind.PURCHASE.value, credits, amount, currency, customer.credits, description, at)
        )
    if customer.credits:
        # Customers spend what they buy; keep 0-60% of it, in tens.
        used = customer.credits - (customer.credits * rng.randrange(0, 61) // 100) // 10 * 10
        if person.email == "elijah.herrick@example.com":
            used = customer.credits - 120
        if used:
            customer.credits -= used
            last_at: datetime = plan[-1][2]
            customer.ledger.append(
                (None, LedgerEntry.Kind.USAGE.value, -used, None, "", customer.credits, "Credits used", last_at)
            )
    return customer


def demo_customers(count: int) -> Iterable[DemoCustomer]:
    rng = random.Random(7)  # noqa: S311  (demo data, reproducible on purpose)
    for person in demo_people(count):
        yield _customer(person, rng)


_TEMP_TABLES = """
    CREATE TEMP TABLE IF NOT EXISTS demo_users (
        email text, first_name text, last_name text, phone text, credits bigint, date_joined timestamptz
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS demo_new_users (id bigint, email text) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS demo_payments (
        email text, gateway_id text, description text, amount bigint, currency text, credits_bought bigint,
        created_at timestamptz
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS demo_ledger (
        email text, gateway_id text, kind text, credits_delta bigint, money_delta bigint, currency text,
        balance_after bigint, note text, created_at timestamptz, seq int
    ) ON COMMIT DELETE ROWS;
"""


def demo_customers_insert(count: int, progress=None, batch_size: int = 20_000) -> int:
    """Insert the first `count` demo customers that are missing, with their payments and ledger;
    return how many customers were new."""
    users = connection.ops.quote_name("accounts_user")
    payments = Payment._meta.db_table
    ledger = LedgerEntry._meta.db_table
    created = 0
    with connection.cursor() as cursor:
        cursor.execute(_TEMP_TABLES)
        customers = iter(demo_customers(count))
        while True:
            batch = [customer for _, customer in zip(range(batch_size), customers, strict=False)]
            if not batch:
                break
            pg = cursor.connection
            with pg.transaction():
                with pg.cursor().copy("COPY demo_users FROM STDIN") as copy:
                    for c in batch:
                        p = c.person
                        copy.write_row((p.email, p.first_name, p.last_name, p.phone, c.credits, p.date_joined))
                with pg.cursor().copy("COPY demo_payments FROM STDIN") as copy:
                    for c in batch:
                        for gateway_id, description, amount, currency, credits, at in c.payments:
                            copy.write_row((c.person.email, gateway_id, description, amount, currency, credits, at))
                with pg.cursor().copy("COPY demo_ledger FROM STDIN") as copy:
                    for c in batch:
                        for seq, row in enumerate(c.ledger):
                            copy.write_row((c.person.email, *row, seq))
                cursor.execute(
                    f"""
                    WITH inserted AS (
                        INSERT INTO {users} (email, first_name, last_name, phone, credits, date_joined,
                                             password, is_superuser, is_staff, is_active)
                        SELECT email, first_name, last_name, phone, credits, date_joined, '!', false, false, true
                        FROM demo_users
                        ON CONFLICT ((lower(email))) DO NOTHING
                        RETURNING id, email
                    )
                    INSERT INTO demo_new_users SELECT id, email FROM inserted
                    """
                )
                cursor.execute(
                    f"""
                    INSERT INTO {payments} (user_id, gateway, gateway_id, description, amount, currency,
                                            credits_bought, amount_refunded, status, created_at)
                    SELECT u.id, 'sandbox', p.gateway_id, p.description, p.amount, p.currency, p.credits_bought,
                           0, 'succeeded', p.created_at
                    FROM demo_payments p JOIN demo_new_users u USING (email)
                    ON CONFLICT (gateway, gateway_id) DO NOTHING
                    """
                )
                cursor.execute(
                    f"""
                    INSERT INTO {ledger} (user_id, kind, credits_delta, money_delta, currency, balance_after,
                                          note, created_at, correlation_id, payment_id)
                    SELECT u.id, l.kind, l.credits_delta, l.money_delta, l.currency, l.balance_after, l.note,
                           l.created_at, '', p.id
                    FROM demo_ledger l
                    JOIN demo_new_users u USING (email)
                    LEFT JOIN {payments} p ON p.gateway = 'sandbox' AND p.gateway_id = l.gateway_id
                    ORDER BY u.id, l.seq
                    """
                )
                cursor.execute("SELECT count(*) FROM demo_new_users")
                created += cursor.fetchone()[0]
            if progress is not None:
                progress.update(len(batch))
    return created


# Disputes on two customers who are not featured (the help article's flow stays undisputed): one
# open, a response due in a week; one won. (id, status, days ago it opened, days ago it was decided)
DEMO_DISPUTES = [("du_demo_open", "needs_response", 2, None), ("du_demo_won", "won", 30, 5)]


def demo_disputes() -> int:
    """The demo's disputes, recorded through the dispute service as the gateway's news would be
    (audited, badge on the Payments tab), unless they are there already. Returns how many were added."""
    from payments.gateway import DisputeNotice
    from payments.models import Dispute
    from payments.services.disputes import dispute_record_from_notice

    if Dispute.objects.filter(gateway_dispute_id__startswith="du_demo_").exists():
        return 0
    candidates = (
        Payment.objects.filter(gateway=Payment.Gateway.SANDBOX, status=Payment.Status.SUCCEEDED, amount_refunded=0)
        .exclude(user__email__in=FEATURED_PAYMENTS)
        .order_by("user_id", "-created_at")
    )
    payments, users = [], set()
    for payment in candidates[:200]:
        if payment.user_id not in users:
            users.add(payment.user_id)
            payments.append(payment)
        if len(payments) == len(DEMO_DISPUTES):
            break
    now = timezone.now()
    for payment, (dispute_id, status, opened, decided) in zip(payments, DEMO_DISPUTES, strict=False):
        news = [("needs_response", opened)] + ([(status, decided)] if decided is not None else [])
        for news_status, days_ago in news:
            dispute_record_from_notice(
                notice=DisputeNotice(
                    gateway_dispute_id=dispute_id,
                    payment_gateway_ids=(payment.gateway_id,),
                    amount=payment.amount,
                    currency=payment.currency,
                    reason="Product not received",
                    status=news_status,
                    evidence_due_at=now - timedelta(days=opened) + timedelta(days=9) if news_status != "won" else None,
                    charge_refundable=False,
                    opened_at=now - timedelta(days=opened),
                    reported_at=now - timedelta(days=days_ago),
                ),
                gateway=payment.gateway,
            )
    return len(payments)
