"""The text a staff search matches, as one SQL expression shared by the index and the query.

`statstak_unaccent` is an IMMUTABLE wrapper around `unaccent` (created by the first accounts
migration): Postgres only indexes immutable expressions, and `unaccent()` itself is declared
STABLE because its dictionary could change. Index and query must use the same expression, or
the planner will not use the index.
"""

from django.db.models import F, Func, TextField, Value


class Folded(Func):
    """Lower-cased and unaccented, so "Zoë" and "ZOE" compare equal."""

    template = "statstak_unaccent(lower(%(expressions)s))"
    output_field = TextField()


class SearchableText(Func):
    """First name, last name and email, joined by spaces and folded."""

    template = "statstak_unaccent(lower(%(expressions)s))"
    arg_joiner = " || ' ' || "
    output_field = TextField()

    def __init__(self) -> None:
        super().__init__(F("first_name"), F("last_name"), F("email"))


def folded_value(text: str) -> Folded:
    return Folded(Value(text, output_field=TextField()))
