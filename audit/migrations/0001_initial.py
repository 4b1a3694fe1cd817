"""The audit trail moves out of accounts into its own app, keeping every row.

Until accounts 0006 the table was `accounts_auditevent`; it is renamed (PostgreSQL keeps its rows,
indexes, identity sequence and append-only trigger), and the model's content type moves with it,
so the permissions that hang off it (view_auditevent, export_auditevent) and every generic link
to it keep working: Administrators keep the Audit log.
"""

import django.core.serializers.json
import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models


def content_type_move(apps, schema_editor, old="accounts", new="audit"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label=old, model="auditevent").update(app_label=new)


def content_type_move_back(apps, schema_editor):
    content_type_move(apps, schema_editor, old="audit", new="accounts")


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
                    name="AuditEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                        ("actor_label", models.CharField(blank=True, max_length=150)),
                        ("action", models.CharField(max_length=32)),
                        ("about_id", models.PositiveBigIntegerField(blank=True, null=True)),
                        (
                            "before",
                            models.JSONField(
                                blank=True, encoder=django.core.serializers.json.DjangoJSONEncoder, null=True
                            ),
                        ),
                        (
                            "after",
                            models.JSONField(
                                blank=True, encoder=django.core.serializers.json.DjangoJSONEncoder, null=True
                            ),
                        ),
                        ("ip_address", models.GenericIPAddressField(blank=True, null=True)),
                        ("user_agent", models.CharField(blank=True, max_length=300)),
                        ("correlation_id", models.CharField(blank=True, max_length=64)),
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
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "target_user",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "permissions": [("export_auditevent", "Can export the audit log")],
                        "indexes": [
                            models.Index(
                                models.OrderBy(models.F("created_at"), descending=True),
                                models.OrderBy(models.F("id"), descending=True),
                                name="accounts_audit_newest",
                            ),
                            models.Index(fields=["actor", "-id"], name="accounts_audit_actor"),
                            models.Index(fields=["target_user", "-id"], name="accounts_audit_target"),
                            models.Index(fields=["action", "-id"], name="accounts_audit_action"),
                        ],
                    },
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql="""
                        ALTER TABLE accounts_auditevent RENAME TO audit_auditevent;
                        ALTER TRIGGER accounts_auditevent_append_only ON audit_auditevent
                            RENAME TO audit_auditevent_append_only;
                        ALTER FUNCTION accounts_audit_refuse_change() RENAME TO audit_refuse_change;
                    """,
                    reverse_sql="""
                        ALTER FUNCTION audit_refuse_change() RENAME TO accounts_audit_refuse_change;
                        ALTER TRIGGER audit_auditevent_append_only ON audit_auditevent
                            RENAME TO accounts_auditevent_append_only;
                        ALTER TABLE audit_auditevent RENAME TO accounts_auditevent;
                    """,
                ),
            ],
        ),
        migrations.RunPython(content_type_move, content_type_move_back),
    ]
