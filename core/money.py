"""Money as integer minor units plus an ISO-4217 code; never floats.

An amount is in Stripe's minor units, so Stripe's table (`core.currencies`) says how many decimals
it has: 100000 HUF is 1,000.00 Ft, where CLDR would say 100,000 Ft. Babel (CLDR) writes it: the
symbol, the grouping, and how many of those decimals people show (none for HUF, so "HUF 1,000";
the fillér appear only when there are some, "HUF 1,000.50"). A currency Stripe does not take
falls back to CLDR's decimals, so that an old row still reads.
"""

from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, get_currency_precision, get_currency_symbol

from core.currencies import stripe_amount_problem, stripe_currency, stripe_decimals_rule

# Parsed once: given its name, Babel parses the locale again on every call (a third of the time of
# formatting an amount, and the Audit log formats a few hundred a page).
LOCALE = Locale.parse("en_US")
# CLDR's currency spacing (en: insertBetween U+00A0), which Babel does not apply: a symbol that is
# letters ("HUF", "F CFA") is set apart from the digits, "HUF 1,000" rather than "HUF1,000".
_CURRENCY_SPACE = "\u00a0"


def currency_exponent(currency: str) -> int:
    """Decimals in an amount of `currency` at Stripe: 2 for USD and HUF, 0 for JPY, 3 for KWD."""
    known = stripe_currency(currency)
    if known is not None:
        return known.exponent
    return get_currency_precision(currency.upper())  # CLDR's, 2 for a code it does not know either


def _display_digits(amount: int, currency: str) -> int:
    """Stripe's decimals, fewer when CLDR shows fewer and the amount has none there (1,000 Ft)."""
    exponent = currency_exponent(currency)
    shown = min(get_currency_precision(currency.upper()), exponent)
    return shown if amount % 10 ** (exponent - shown) == 0 else exponent


# Babel takes ~50 µs an amount (locale data, the pattern parsed again each call), and a profile tab
# prints dozens, mostly the same few prices. The text depends on the arguments alone, never on data
# that can change, so it is kept.
@lru_cache(maxsize=4096)
def money_format(amount: int, currency: str, *, plain_spaces: bool = False) -> str:
    """12345, "USD" → "$123.45"; 500, "JPY" → "¥500"; 100000, "HUF" → "HUF 1,000".

    The space after a symbol of letters is a no-break space, as CLDR says, so a page never breaks
    "HUF" from its number; `plain_spaces` makes every space an ordinary one, for an SMS, where a
    no-break space is outside GSM-7 and would make the text UCS-2, at half the length a segment."""
    code = currency.upper()
    digits = _display_digits(amount, code)
    pattern = "¤#,##0" + ("." + "0" * digits if digits else "")
    value = Decimal(abs(amount)).scaleb(-currency_exponent(code))
    text = format_currency(value, code, format=pattern, locale=LOCALE, currency_digits=False)
    symbol = get_currency_symbol(code, locale=LOCALE)
    if symbol and symbol[-1].isalpha() and text.startswith(symbol):
        text = symbol + _CURRENCY_SPACE + text[len(symbol) :]
    if plain_spaces:
        text = text.replace(_CURRENCY_SPACE, " ").replace("\u202f", " ")  # "F CFA" has a narrow one
    return f"-{text}" if amount < 0 else text


def money_to_decimal_text(amount: int, currency: str) -> str:
    """12345, "USD" → "123.45"; 100000, "HUF" → "1000": what a form field shows for an amount."""
    digits = _display_digits(amount, currency)
    value = Decimal(amount).scaleb(-currency_exponent(currency))
    return f"{value:.{digits}f}"


class MoneyParseError(ValueError):
    pass


def money_parse(text: str, currency: str) -> int:
    """ "12.50", "USD" → 1250; "250", "HUF" → 25000. Refuses, in words, what is not a plain positive
    decimal in that currency or what Stripe would not take in it (decimals of ISK, a third decimal
    of KWD that is not 0)."""
    exponent = currency_exponent(currency)
    cleaned = text.strip().replace(",", "")
    if cleaned.startswith("-"):
        raise MoneyParseError("Enter an amount greater than zero.")
    # ASCII digits only: str.isdigit() and Decimal() also take other scripts' digits, and a Bengali
    # four looks like an eight.
    if not cleaned or len(cleaned) > 24 or not all(ch in "0123456789." for ch in cleaned):
        raise MoneyParseError("Enter an amount like 12.50." if exponent else "Enter a whole amount like 500.")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as error:
        raise MoneyParseError("Enter an amount like 12.50.") from error
    known = stripe_currency(currency)
    if -value.as_tuple().exponent > exponent:
        if exponent == 0:
            raise MoneyParseError(f"{currency.upper()} amounts have no decimals.")
        if known is not None and known.decimals_allowed < exponent:
            raise MoneyParseError(f"{stripe_decimals_rule(known)}.")
        raise MoneyParseError(f"Use at most {exponent} decimals.")
    amount = int(value.scaleb(exponent))
    # Within the exponent but not a step Stripe takes: "12.50" ISK, "5.124" KWD; said with the two
    # nearest amounts it does take.
    if amount > 0 and known is not None and (problem := stripe_amount_problem(amount, currency)):
        raise MoneyParseError(problem)
    return amount
