"""The invariants of DESIGN.md, each one set-based query over whole tables.

Each rule's query returns its offenders (an id and the numbers that disagree), the first `show`
of them by id, with the total count beside each row. A rule is a statement that must hold for
every row: the check never repairs anything, it names what a person must look at.

The rules (numbers as in DESIGN.md):
1. credits: every user's balance equals the sum of their ledger credit deltas, equals the latest
   entry's balance_after, and is never below 0.
2. payment totals: every payment's refunded amount equals the sum of its succeeded refunds; the
   money its refund and reversal entries move equals its succeeded card refunds; the money its
   `dispute_lost` entries move equals its lost disputes' amounts (and a lost dispute has its
   entry); its status follows its refunded amount; succeeded plus reserved (pending, awaiting
   approval) refunds never exceed what was paid.
3. refund entries: a succeeded refund has exactly one refund entry, moving the credits the refund
   says; a failed or canceled one has none, or one and its reversal; any other has none.
4. messages: a succeeded refund that was to be told to the customer has exactly one message,
   which the provider holds once (no duplicate texts found by a lookup or a status callback).
5. audit: every ledger entry made by a staff member has its audit event (about the entry, or, for
   a refund's entry, the refund's "executed" event).
"""

import time
from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.db import connection

from payments.models import LedgerEntry
from refunds.audit import RefundAction
from refunds.models import Refund


@dataclass(frozen=True)
class Offender:
    rule: str
    object: str  # what `id` is: "user", "payment", "refund", "ledger entry"
    id: int
    detail: str


@dataclass(frozen=True)
class RuleResult:
    rule: str
    says: str
    offender_count: int
    offenders: list[Offender]


@dataclass(frozen=True)
class BooksReport:
    counts: dict[str, int]
    results: list[RuleResult]
    seconds: float
    offenders: list[Offender] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "offenders", [offender for result in self.results for offender in result.offenders])

    @property
    def offender_count(self) -> int:
        return sum(result.offender_count for result in self.results)


@dataclass(frozen=True)
class _Rule:
    name: str
    says: str
    object: str
    sql: str  # selects (id, detail) of each offender; content type ids as %(named)s parameters

    @property
    def query(self) -> str:
        # format()'s own %s placeholders, escaped from the driver's parameter syntax.
        return self.sql.replace("%s", "%%s")


# What a check counts, in the order it is shown.
COUNTED = ("users", "payments", "refunds", "ledger entries", "messages")

_RESERVING = "(" + ", ".join(f"'{status}'" for status in Refund.RESERVING) + ")"

RULES = [
    _Rule(
        name="credits",
        says="a user's credits equal the sum of their ledger entries and the latest balance_after, never below 0",
        object="user",
        sql="""
            WITH sums AS (
                SELECT user_id, SUM(credits_delta) AS ledger_sum, MAX(id) AS last_id
                FROM payments_ledgerentry GROUP BY user_id
            )
            SELECT u.id, format('balance %s, ledger sum %s, latest balance_after %s',
                                u.credits, COALESCE(s.ledger_sum, 0), COALESCE(l.balance_after::text, 'none'))
            FROM accounts_user u
            LEFT JOIN sums s ON s.user_id = u.id
            LEFT JOIN payments_ledgerentry l ON l.id = s.last_id
            WHERE u.credits < 0 OR u.credits <> COALESCE(s.ledger_sum, 0) OR u.credits <> COALESCE(l.balance_after, 0)
        """,
    ),
    _Rule(
        name="payment totals",
        says="a payment's refunded amount equals its succeeded refunds and its ledger's refund money, its ledger's "
        "dispute money equals its lost disputes, its status follows, and succeeded plus reserved refunds never "
        "exceed what was paid",
        object="payment",
        sql=f"""
            WITH r AS (
                SELECT payment_id,
                       SUM(amount) FILTER (WHERE status = 'succeeded') AS succeeded,
                       SUM(amount) FILTER (WHERE status = 'succeeded' AND type <> 'credits') AS succeeded_money,
                       SUM(amount) FILTER (WHERE status IN {_RESERVING}) AS reserved
                FROM refunds_refund GROUP BY payment_id
            ), l AS (
                SELECT payment_id,
                       -SUM(money_delta) FILTER (WHERE kind IN ('refund', 'refund_reversal')) AS money_refunded,
                       -SUM(money_delta) FILTER (WHERE kind = 'dispute_lost') AS money_disputed
                FROM payments_ledgerentry
                WHERE kind IN ('refund', 'refund_reversal', 'dispute_lost') AND payment_id IS NOT NULL
                  AND money_delta IS NOT NULL
                GROUP BY payment_id
            ), d AS (
                SELECT payment_id, SUM(amount) FILTER (WHERE status = 'lost') AS lost,
                       COUNT(*) FILTER (WHERE (status = 'lost') <> (ledger_entry_id IS NOT NULL)) AS without_entry
                FROM payments_dispute GROUP BY payment_id
            ), t AS (
                SELECT p.id, p.amount, p.amount_refunded, p.status,
                       COALESCE(r.succeeded, 0) AS succeeded, COALESCE(r.succeeded_money, 0) AS succeeded_money,
                       COALESCE(r.reserved, 0) AS reserved, COALESCE(l.money_refunded, 0) AS money_refunded,
                       COALESCE(l.money_disputed, 0) AS money_disputed, COALESCE(d.lost, 0) AS disputes_lost,
                       COALESCE(d.without_entry, 0) AS disputes_without_entry,
                       CASE WHEN p.amount_refunded <= 0 THEN 'succeeded'
                            WHEN p.amount_refunded >= p.amount THEN 'refunded'
                            ELSE 'partially_refunded' END AS expected_status
                FROM payments_payment p
                LEFT JOIN r ON r.payment_id = p.id
                LEFT JOIN l ON l.payment_id = p.id
                LEFT JOIN d ON d.payment_id = p.id
            )
            SELECT id, format('amount %s, refunded %s, succeeded refunds %s (money %s), ledger refund money %s, '
                              'reserved %s, status %s (expected %s), lost disputes %s, ledger dispute money %s, '
                              '%s lost disputes without their entry', amount, amount_refunded, succeeded,
                              succeeded_money, money_refunded, reserved, status, expected_status, disputes_lost,
                              money_disputed, disputes_without_entry)
            FROM t
            WHERE amount_refunded <> succeeded OR money_refunded <> succeeded_money OR reserved > amount
               OR status <> expected_status OR money_disputed <> disputes_lost OR disputes_without_entry > 0
        """,
    ),
    _Rule(
        name="refund entries",
        says="a succeeded refund has exactly one refund entry with its credits; a failed one none, or one and its "
        "reversal; any other none",
        object="refund",
        sql="""
            WITH e AS (
                SELECT refund_id,
                       COUNT(*) FILTER (WHERE kind = 'refund') AS entries,
                       COUNT(*) FILTER (WHERE kind = 'refund_reversal') AS reversals,
                       SUM(credits_delta) FILTER (WHERE kind = 'refund') AS credits
                FROM payments_ledgerentry WHERE refund_id IS NOT NULL GROUP BY refund_id
            )
            SELECT r.id, format('%s: %s refund entries, %s reversals, credits %s in the ledger and %s on the refund',
                                r.status, COALESCE(e.entries, 0), COALESCE(e.reversals, 0),
                                COALESCE(e.credits::text, 'none'), r.credits_delta)
            FROM refunds_refund r LEFT JOIN e ON e.refund_id = r.id
            WHERE CASE
                WHEN r.status = 'succeeded' THEN
                    COALESCE(e.entries, 0) <> 1 OR COALESCE(e.reversals, 0) <> 0 OR e.credits <> r.credits_delta
                WHEN r.status IN ('failed', 'canceled') THEN
                    COALESCE(e.entries, 0) > 1 OR COALESCE(e.entries, 0) <> COALESCE(e.reversals, 0)
                ELSE COALESCE(e.entries, 0) + COALESCE(e.reversals, 0) > 0
            END
        """,
    ),
    _Rule(
        name="messages",
        says="a succeeded refund that was to be told to the customer has exactly one message",
        object="refund",
        sql="""
            SELECT r.id, format('%s messages, %s more texts at the provider', COUNT(m.id),
                                COALESCE(SUM(cardinality(m.provider_duplicate_ids)), 0))
            FROM refunds_refund r
            LEFT JOIN notifications_smsmessage m ON m.about_type_id = %(refund_type)s AND m.about_id = r.id
            WHERE r.status = 'succeeded' AND r.notify_customer
            GROUP BY r.id
            -- A message the provider holds twice (an answer lost, a resend) told the customer twice.
            HAVING COUNT(m.id) <> 1 OR COALESCE(SUM(cardinality(m.provider_duplicate_ids)), 0) > 0
        """,
    ),
    _Rule(
        name="audit",
        says="every ledger entry a staff member made has its audit event",
        object="ledger entry",
        sql="""
            SELECT l.id, format('%s by staff member %s, no audit event', l.kind, l.actor_id)
            FROM payments_ledgerentry l
            WHERE l.actor_id IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM audit_auditevent a
                WHERE (a.about_type_id = %(entry_type)s AND a.about_id = l.id)
                   OR (l.refund_id IS NOT NULL AND a.about_type_id = %(refund_type)s AND a.about_id = l.refund_id
                       AND a.action = %(refund_executed)s)
            )
        """,
    ),
]


def books_verify(*, show: int = 100) -> BooksReport:
    """Check every rule over every row; at most `show` offenders listed per rule (all counted)."""
    started = time.perf_counter()
    params = {
        "show": show,
        "refund_type": ContentType.objects.get_for_model(Refund).pk,
        "entry_type": ContentType.objects.get_for_model(LedgerEntry).pk,
        "refund_executed": RefundAction.EXECUTED.value,
    }
    results = []
    with connection.cursor() as cursor:
        for rule in RULES:
            query = f"SELECT id, detail, COUNT(*) OVER () FROM ({rule.query}) AS bad (id, detail)"
            cursor.execute(query + " ORDER BY id LIMIT %(show)s", params)
            rows = cursor.fetchall()
            offenders = [Offender(rule.name, rule.object, row_id, detail) for row_id, detail, _ in rows]
            count = rows[0][2] if rows else 0
            if show == 0:  # LIMIT 0 tells no count: ask for it alone
                cursor.execute(f"SELECT COUNT(*) FROM ({rule.query}) AS bad", params)
                count = cursor.fetchone()[0]
            results.append(RuleResult(rule.name, rule.says, count, offenders))
        cursor.execute(
            """
            SELECT (SELECT COUNT(*) FROM accounts_user), (SELECT COUNT(*) FROM payments_payment),
                   (SELECT COUNT(*) FROM refunds_refund), (SELECT COUNT(*) FROM payments_ledgerentry),
                   (SELECT COUNT(*) FROM notifications_smsmessage)
            """
        )
        users, payments, refunds, entries, messages = cursor.fetchone()
    counts = dict(zip(COUNTED, (users, payments, refunds, entries, messages), strict=True))
    return BooksReport(counts=counts, results=results, seconds=time.perf_counter() - started)
