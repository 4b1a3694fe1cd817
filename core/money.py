"""Money as integer minor units plus an ISO-4217 code; never floats.

Babel knows each currency's number of decimals (JPY has none) and how to write amounts.
"""

from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision

LOCALE = "en_US"


def currency_exponent(currency: str) -> int:
    return get_currency_precision(currency.upper())


def money_format(amount: int, currency: str) -> str:
    """12345, "USD" → "$123.45"; 500, "JPY" → "¥500"."""
    exponent = currency_exponent(currency)
    return format_currency(Decimal(amount).scaleb(-exponent), currency.upper(), locale=LOCALE)


def money_to_decimal_text(amount: int, currency: str) -> str:
    """12345, "USD" → "123.45": what a form field shows for an amount."""
    exponent = currency_exponent(currency)
    return f"{Decimal(amount).scaleb(-exponent):.{exponent}f}"


class MoneyParseError(ValueError):
    pass


def money_parse(text: str, currency: str) -> int:
    """ "12.50", "USD" → 1250. Refuses what is not a plain positive decimal in that currency."""
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
    if -value.as_tuple().exponent > exponent:
        if exponent == 0:
            raise MoneyParseError(f"{currency.upper()} amounts have no decimals.")
        raise MoneyParseError(f"Use at most {exponent} decimals.")
    return int(value.scaleb(exponent))
