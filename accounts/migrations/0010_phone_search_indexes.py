"""Indexes for the search by phone number: built concurrently, so that a million users stay
writable while they are (a plain CREATE INDEX blocks every write to the table until it is done)."""

import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0009_customer_note"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="user",
            index=models.Index(
                models.F("phone"),
                models.OrderBy(models.F("date_joined"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                condition=models.Q(("phone", ""), _negated=True),
                name="accounts_user_phone_newest",
            ),
        ),
        AddIndexConcurrently(
            model_name="user",
            index=models.Index(
                django.db.models.functions.text.Right("phone", 4),
                models.OrderBy(models.F("date_joined"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                condition=models.Q(("phone", ""), _negated=True),
                name="accounts_user_phone_end_newest",
            ),
        ),
    ]
