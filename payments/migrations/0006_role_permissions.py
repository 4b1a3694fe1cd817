"""Payments' permissions for the staff roles (accounts 0004 makes the roles). A database made
before issue 10 already has these grants; adding them again changes nothing."""

from django.db import migrations

from accounts.roles import role_permissions_grant


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0005_credit_limit_permission"),
        ("accounts", "0004_roles"),
    ]

    operations = [
        # Frozen: (role, codename) as of this migration.
        role_permissions_grant(
            "payments",
            [
                ("Support", "adjust_credits"),
                ("Finance", "adjust_credits"),
                ("Finance", "adjust_credits_any_amount"),
                ("Administrator", "adjust_credits"),
                ("Administrator", "adjust_credits_any_amount"),
            ],
        ),
    ]
