"""A partial index of the users whose search text has punctuation other than "@" and "." (about 2%
of them), newest first, carrying the text: a search word that no trigram serves ("o'", "-p", "_")
walks it from the index alone instead of windows of all users. Built concurrently, so that the
users stay writable while it is (a few seconds at a million users)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0011_erasure"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="user",
            index=models.Index(
                condition=models.Q(("search_text__regex", "[^a-z0-9 @.]")),
                fields=["-date_joined", "-id"],
                include=("search_text",),
                name="accounts_user_punctuated",
            ),
        ),
    ]
