"""Drop the customer's own index on payments and on ledger entries: the newest-first indexes start
with the customer, so these only gave the planner, on stale statistics, a worse way to a
customer's page (all their rows, then a sort: 117 ms at 100,000 payments; bench/NOTES.md).

The state changes as `db_index=False` would; the database only drops the two indexes,
concurrently. Django's own AlterField would also drop and re-add each foreign key, which checks
every row again under a lock that stops writes (millions of rows)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _drop(index: str, table: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f'DROP INDEX CONCURRENTLY IF EXISTS "{index}"',
        reverse_sql=f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{index}" ON "{table}" ("user_id")',
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("payments", "0011_ledger_user_newest_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="ledgerentry",
                    name="user",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ledger_entries",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="payment",
                    name="user",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="payments",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                _drop("payments_ledgerentry_user_id_374df45f", "payments_ledgerentry"),
                _drop("payments_payment_user_id_f9db060a", "payments_payment"),
            ],
        ),
    ]
