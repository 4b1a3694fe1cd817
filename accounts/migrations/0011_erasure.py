"""Erasure of a customer's personal data (privacy/services.py): who may (Administrators), and the
one change the audit trail lets through.

The audit trail stays append-only for everything else. While an erasure runs, its transaction
sets `statstak.erasing_user` (SET LOCAL: it ends with the transaction) to the customer's id, and
may then rewrite the `before`/`after` and `user_agent` of the customer's events (or of events
about nobody, such as a failed login that typed their email): the personal data in them becomes
a placeholder, amounts and everything else stay. No other column may change, no event may be
deleted, and no session without the setting can change anything. Staff notes
(accounts_customernote, migration 0009) already carry the same exception for their text.
"""

from django.db import migrations

from accounts.roles import role_permissions_grant

AUDIT_GUARD_WITH_ERASURE = """
    CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        erasing text := current_setting('statstak.erasing_user', true);
    BEGIN
        IF TG_OP = 'UPDATE' AND coalesce(erasing, '') <> ''
           AND (OLD.target_user_id IS NULL OR OLD.target_user_id::text = erasing)
           AND NEW.id = OLD.id AND NEW.created_at = OLD.created_at AND NEW.action = OLD.action
           AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
           AND NEW.actor_label = OLD.actor_label
           AND NEW.target_user_id IS NOT DISTINCT FROM OLD.target_user_id
           AND NEW.about_type_id IS NOT DISTINCT FROM OLD.about_type_id
           AND NEW.about_id IS NOT DISTINCT FROM OLD.about_id
           AND NEW.ip_address IS NOT DISTINCT FROM OLD.ip_address
           AND NEW.correlation_id = OLD.correlation_id THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit events are append-only: % refused on %', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END
    $$;
"""

AUDIT_GUARD = """
    CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit events are append-only: % refused on %', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END
    $$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_phone_search_indexes"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="user",
            options={
                "permissions": [
                    ("manage_staff", "Can give staff members roles and deactivate them"),
                    ("erase_user", "Can erase a customer's personal data"),
                ]
            },
        ),
        role_permissions_grant("accounts", [("Administrator", "erase_user")]),
        migrations.RunSQL(sql=AUDIT_GUARD_WITH_ERASURE, reverse_sql=AUDIT_GUARD),
    ]
