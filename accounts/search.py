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


class WordStart(Func):
    """A regular expression matching `word`, folded, at the start of a word of SearchableText.

    For words of one or two letters: a trigram index cannot serve a substring that short (a
    search for "xu" would read the whole table), but it can serve this, through the padded
    trigrams of word starts (" xu"). The separators are spelled out: a class like [^[:alnum:]]
    makes pg_trgm give up on the index.
    """

    template = "'(^|[ .@_+''-])' || statstak_unaccent(lower(%(expressions)s))"
    output_field = TextField()


def word_start_value(word: str) -> WordStart:
    return WordStart(Value(word, output_field=TextField()))
