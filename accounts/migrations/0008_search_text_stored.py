"""The Users search reads a stored column, `search_text` (names and email folded as before): its
trigram index is on that column instead of on the expression, and the newest-first index carries
it, so that a search's bounded steps test a window of the newest users from the index alone.

Testing a candidate row was `statstak_unaccent(lower(...))` and a random read of the table every
time; now it is a LIKE on text in the index. Adding the column rewrites the users table once
(about 35 s at a million users, under an exclusive lock), then builds both indexes.
"""

import django.contrib.postgres.indexes
from django.db import migrations, models

import accounts.search


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_staff_index"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="user",
            name="accounts_user_search_trgm",
        ),
        migrations.RemoveIndex(
            model_name="user",
            name="accounts_user_newest",
        ),
        migrations.AddField(
            model_name="user",
            name="search_text",
            field=models.GeneratedField(
                db_persist=True, expression=accounts.search.SearchableText(), output_field=models.TextField()
            ),
        ),
        migrations.AddIndex(
            model_name="user",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["search_text"], name="accounts_user_search_text_trgm", opclasses=["gin_trgm_ops"]
            ),
        ),
        migrations.AddIndex(
            model_name="user",
            index=models.Index(
                fields=["-date_joined", "-id"], include=("search_text",), name="accounts_user_newest_text"
            ),
        ),
    ]
