"""The Refunds page across customers: its permission for Finance and Administrators, and the
indexes its filters and keyset paging read (plain CREATE INDEX: refunds is thousands of rows, not
millions; on a bigger table this would be AddIndexConcurrently in a non-atomic migration)."""

from django.conf import settings
from django.db import migrations, models

from accounts.roles import role_permissions_grant


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0009_disputes_and_webhook_api_version"),
        ("refunds", "0005_refund_correlation_id"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="refund",
            options={
                "permissions": [
                    ("execute_refund", "Can refund a customer's payment"),
                    ("approve_refund", "Can approve another staff member's large refund"),
                    ("view_all_refunds", "Can list and export the refunds of every customer"),
                ]
            },
        ),
        migrations.AddIndex(
            model_name="refund",
            index=models.Index(fields=["-created_at", "-id"], name="refunds_created_keyset"),
        ),
        migrations.AddIndex(
            model_name="refund",
            index=models.Index(fields=["status", "-created_at", "-id"], name="refunds_status_created"),
        ),
        migrations.AddIndex(
            model_name="refund",
            index=models.Index(fields=["requested_by", "-created_at", "-id"], name="refunds_staff_created"),
        ),
        migrations.AddIndex(
            model_name="refund",
            index=models.Index(fields=["currency", "amount"], name="refunds_currency_amount"),
        ),
        # Frozen: (role, codename) as of this migration.
        role_permissions_grant("refunds", [("Finance", "view_all_refunds"), ("Administrator", "view_all_refunds")]),
    ]
