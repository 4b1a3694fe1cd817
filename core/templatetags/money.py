from django import template

from core.money import currency_exponent as _currency_exponent
from core.money import money_format

register = template.Library()


@register.filter
def money(amount: int | None, currency: str) -> str:
    """{{ payment.amount|money:payment.currency }} → "$19.00"."""
    if amount is None:
        return ""
    return money_format(amount, currency)


@register.filter
def currency_exponent(currency: str) -> int:
    """How many decimals an amount of the currency has at Stripe: 2 for USD and HUF, 0 for JPY."""
    return _currency_exponent(currency)
