"""Bulk credit changes from a CSV file: CreditBatch and its rows (new tables only), and the
permission to apply one, for Finance and Administrators."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from accounts.roles import role_permissions_grant


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0009_disputes_and_webhook_api_version"),
        ("accounts", "0004_roles"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CreditBatch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("filename", models.CharField(max_length=255)),
                ("content_sha256", models.CharField(max_length=64, unique=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("checked", "Checked (dry run)"),
                            ("queued", "Waiting to apply"),
                            ("applying", "Applying"),
                            ("applied", "Applied"),
                        ],
                        default="checked",
                        max_length=16,
                    ),
                ),
                ("row_count", models.PositiveIntegerField(default=0)),
                ("rows_done", models.PositiveIntegerField(default=0)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("apply_started_at", models.DateTimeField(blank=True, null=True)),
                ("applied_at", models.DateTimeField(blank=True, null=True)),
                (
                    "applied_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "uploaded_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "permissions": [("apply_credit_batch", "Can change credits in bulk from a CSV file")],
            },
        ),
        migrations.CreateModel(
            name="CreditBatchRow",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("line", models.PositiveIntegerField(help_text="The line in the file (the header is line 1).")),
                (
                    "customer_ref",
                    models.CharField(blank=True, help_text="The customer as the file names them.", max_length=254),
                ),
                ("credits_delta", models.BigIntegerField(blank=True, null=True)),
                ("note", models.TextField(blank=True)),
                ("balance_seen", models.BigIntegerField(blank=True, null=True)),
                (
                    "verdict",
                    models.CharField(
                        choices=[
                            ("ready", "Ready"),
                            ("needs_approval", "Needs a second staff member's approval"),
                            ("invalid", "Will not be applied"),
                        ],
                        max_length=16,
                    ),
                ),
                ("verdict_message", models.TextField(blank=True)),
                (
                    "outcome",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("", "Not applied yet"),
                            ("applied", "Applied"),
                            ("approval_requested", "Sent for approval"),
                            ("failed", "Failed"),
                            ("skipped", "Skipped (invalid)"),
                        ],
                        default="",
                        max_length=24,
                    ),
                ),
                ("outcome_message", models.TextField(blank=True)),
                (
                    "batch",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="rows", to="payments.creditbatch"
                    ),
                ),
                (
                    "credit_change_request",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="payments.creditchangerequest",
                    ),
                ),
                (
                    "customer",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "ledger_entry",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="payments.ledgerentry",
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("batch", "line"), name="credit_batch_row_unique_line")],
            },
        ),
        # Frozen: (role, codename) as of this migration.
        role_permissions_grant(
            "payments", [("Finance", "apply_credit_batch"), ("Administrator", "apply_credit_batch")]
        ),
    ]
