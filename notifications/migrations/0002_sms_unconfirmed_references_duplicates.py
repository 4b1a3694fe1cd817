"""Each SMS sent once, as far as Twilio allows: an `unconfirmed` status (the answer was lost; looked
up at Twilio before any resend), the reference each text carries, the provider's error code, and
the other texts Twilio holds for a message (duplicates).

Applies to a populated table: the new columns get their empty default in place (PostgreSQL adds
a column with a constant default without rewriting the table); existing messages keep their
status, and those still unsent get a reference on their first attempt. The status CHECK is
replaced by one that also allows `unconfirmed`; the partial index covers only unfinished messages.
"""

import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="smsmessage",
            name="accounts_sms_status_valid",
        ),
        migrations.AddField(
            model_name="smsmessage",
            name="error_code",
            field=models.CharField(blank=True, help_text="The provider's code for `last_error`.", max_length=8),
        ),
        migrations.AddField(
            model_name="smsmessage",
            name="provider_duplicate_ids",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=64),
                blank=True,
                default=list,
                help_text="Other messages the provider holds for this one: the customer got it more than once.",
            ),
        ),
        migrations.AddField(
            model_name="smsmessage",
            name="reference",
            field=models.CharField(
                blank=True,
                help_text="Sent at the end of the text; finds it at the provider when an answer was lost. Given on the first attempt.",
                max_length=6,
            ),
        ),
        migrations.AlterField(
            model_name="smsmessage",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("sending", "Sending"),
                    ("unconfirmed", "Unconfirmed"),
                    ("sent", "Sent"),
                    ("delivered", "Delivered"),
                    ("undelivered", "Undelivered"),
                    ("failed", "Failed"),
                ],
                default="queued",
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="smsmessage",
            index=models.Index(
                condition=models.Q(("status__in", ("queued", "sending", "unconfirmed"))),
                fields=["status_changed_at"],
                name="notifications_sms_unfinished",
            ),
        ),
        migrations.AddConstraint(
            model_name="smsmessage",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("status__in", ["queued", "sending", "unconfirmed", "sent", "delivered", "undelivered", "failed"])
                ),
                name="accounts_sms_status_valid",
            ),
        ),
    ]
