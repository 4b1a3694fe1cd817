"""The text a staff search matches: `User.search_text`, a column PostgreSQL computes from this
expression (SearchableText) on every write, with a trigram index on it.

`statstak_unaccent` is an IMMUTABLE wrapper around `unaccent` (created by the first accounts
migration): Postgres only stores and indexes immutable expressions, and `unaccent()` itself is declared
STABLE because its dictionary could change. The typed words are folded by the same functions.
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


class ScannedText(Func):
    """`User.search_text`, spelled so that no index matches it (`|| ''`).

    For the bounded steps of a search, which walk the newest-first index over a window of users
    and test each row: given the indexed spelling, the planner may instead fetch every match
    through the trigram index and sort them all, which is what the window is there to avoid.
    """

    template = "(%(expressions)s || '')"
    output_field = TextField()

    def __init__(self) -> None:
        super().__init__(F("search_text"))


# Characters of `search_text` other than letters, digits, spaces, "@" and ".": apostrophes, hyphens,
# "_", "+". Few users have any (1.9% of the bench's million), and a partial index holds just those
# users, newest first (`accounts_user_punctuated`): a word with such a character ("o'",
# "-p", "_"), which no trigram serves, is matched by walking that index alone.
PUNCTUATED = r"[^a-z0-9 @.]"


def punctuated(word: str) -> bool:
    """Whether `word` has an ASCII character that only the punctuated users' text can hold.
    ASCII only: folding (lower, unaccent) never changes one, so every user matching `word` is
    in the partial index (a typographic apostrophe folds to one too, but goes the other way)."""
    return any(c.isascii() and not c.isalnum() and c not in " @." for c in word)


def regex_escaped(word: str) -> str:
    """`word` as a literal in a PostgreSQL regular expression: every character that is not a
    letter or digit gets a backslash (a backslash before a non-alphanumeric is that character)."""
    return "".join(c if c.isalnum() else "\\" + c for c in word)


def word_pieces(word: str) -> list[str]:
    """The runs of letters and digits in `word`: the words pg_trgm makes trigrams of (everything
    else separates words, for the index as for this)."""
    pieces, current = [], ""
    for c in word:
        if c.isalnum():
            current += c
        elif current:
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces
