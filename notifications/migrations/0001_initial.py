"""Messages to customers move out of accounts into their own app, keeping every row.

Until accounts 0006 the table was `accounts_smsmessage`; it is renamed (PostgreSQL keeps its rows,
indexes, constraints and identity sequence) and its content type moves with it, so audit events
about a message still find it.
"""

import django.db.models.deletion
import django.utils.timezone
import phonenumber_field.modelfields
from django.conf import settings
from django.db import migrations, models


def content_type_move(apps, schema_editor, old="accounts", new="notifications"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label=old, model="smsmessage").update(app_label=new)


def content_type_move_back(apps, schema_editor):
    content_type_move(apps, schema_editor, old="notifications", new="accounts")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0005_audit_login_protection_actions"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SmsMessage",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "to",
                            phonenumber_field.modelfields.PhoneNumberField(
                                blank=True,
                                help_text="The number it was addressed to; blank when the user had none.",
                                max_length=128,
                                region=None,
                            ),
                        ),
                        ("body", models.TextField()),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("sending", "Sending"),
                                    ("sent", "Sent"),
                                    ("delivered", "Delivered"),
                                    ("undelivered", "Undelivered"),
                                    ("failed", "Failed"),
                                ],
                                default="queued",
                                max_length=16,
                            ),
                        ),
                        (
                            "provider",
                            models.CharField(blank=True, help_text="The SMS backend that sent it.", max_length=16),
                        ),
                        ("provider_message_id", models.CharField(blank=True, max_length=64)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("last_error", models.TextField(blank=True)),
                        ("about_id", models.PositiveBigIntegerField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        ("status_changed_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "about_type",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="contenttypes.contenttype",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="sms_messages",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "indexes": [
                            models.Index(fields=["user", "-created_at", "-id"], name="accounts_sms_user_newest"),
                            models.Index(fields=["about_type", "about_id"], name="accounts_sms_about"),
                        ],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("status__in", ["queued", "sending", "sent", "delivered", "undelivered", "failed"])
                                ),
                                name="accounts_sms_status_valid",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    models.Q(("about_id__isnull", True), ("about_type__isnull", True)),
                                    models.Q(("about_id__isnull", False), ("about_type__isnull", False)),
                                    _connector="OR",
                                ),
                                name="accounts_sms_about_complete",
                            ),
                            models.UniqueConstraint(
                                condition=models.Q(("provider_message_id", ""), _negated=True),
                                fields=("provider", "provider_message_id"),
                                name="accounts_sms_provider_message_unique",
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql="ALTER TABLE accounts_smsmessage RENAME TO notifications_smsmessage",
                    reverse_sql="ALTER TABLE notifications_smsmessage RENAME TO accounts_smsmessage",
                ),
            ],
        ),
        migrations.RunPython(content_type_move, content_type_move_back),
    ]
