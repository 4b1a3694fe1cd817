"""The audit trail and the text messages now belong to their own apps (audit 0001, notifications
0001 took over their tables); accounts keeps people only. State only: nothing changes in the
database here."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_audit_login_protection_actions"),
        ("audit", "0001_initial"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="AuditEvent"),
                migrations.DeleteModel(name="SmsMessage"),
            ],
            database_operations=[],
        ),
    ]
