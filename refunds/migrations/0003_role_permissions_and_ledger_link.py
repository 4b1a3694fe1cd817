"""Refunds' permissions for the staff roles, and the ledger's link to the refund it records.

- Grants: accounts 0004 makes the roles; each app grants its own permissions. A database made
  before issue 10 already has these grants; adding them again changes nothing.
- `payments_ledgerentry.refund_id` is a plain column in payments' schema (payments must not
  depend on refunds). Here, where both tables are known, it becomes a foreign key: a database
  made before issue 10 has one already, under Django's generated name, which is renamed (no
  re-check of millions of rows); a new database gets it added.
"""

from django.db import migrations

from accounts.roles import role_permissions_grant

LEDGER_REFUND_FOREIGN_KEY = """
DO $$
DECLARE
    existing text;
BEGIN
    SELECT conname INTO existing FROM pg_constraint
    WHERE conrelid = 'payments_ledgerentry'::regclass AND contype = 'f'
      AND confrelid = 'refunds_refund'::regclass;
    IF existing IS NULL THEN
        ALTER TABLE payments_ledgerentry ADD CONSTRAINT payments_ledgerentry_refund_fk
            FOREIGN KEY (refund_id) REFERENCES refunds_refund (id) DEFERRABLE INITIALLY DEFERRED;
    ELSIF existing <> 'payments_ledgerentry_refund_fk' THEN
        EXECUTE format('ALTER TABLE payments_ledgerentry RENAME CONSTRAINT %I TO payments_ledgerentry_refund_fk',
                       existing);
    END IF;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0002_approvals"),
        ("payments", "0006_role_permissions"),
        ("accounts", "0004_roles"),
    ]

    operations = [
        # Frozen: (role, codename) as of this migration.
        role_permissions_grant(
            "refunds",
            [
                ("Finance", "execute_refund"),
                ("Finance", "approve_refund"),
                ("Administrator", "execute_refund"),
                ("Administrator", "approve_refund"),
            ],
        ),
        migrations.RunSQL(
            LEDGER_REFUND_FOREIGN_KEY,
            reverse_sql="ALTER TABLE payments_ledgerentry DROP CONSTRAINT payments_ledgerentry_refund_fk",
        ),
    ]
