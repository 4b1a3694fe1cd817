"""Reading settings from the environment, strictly: a value that is not what it should be stops
the portal at start-up with one line naming the variable, instead of quietly meaning something
else (`STATSTAK_REQUIRE_2FA=ture` must not turn two-factor off).

`manage.py` and `statstak/wsgi.py` print an `EnvironmentRefused` as that one line and exit 2.
"""

import os
import re

from django.core.exceptions import ImproperlyConfigured

from core.currencies import stripe_currency

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class EnvironmentRefused(ImproperlyConfigured):
    """A setting from the environment is missing or not a value it can take; `str()` says which."""


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None or not value.strip() else value.strip()


def env_str(name: str, default: str = "") -> str:
    return _raw(name) or default


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise EnvironmentRefused(f"{name}={value!r} is not a yes/no value: use 1/0, true/false, yes/no or on/off.")


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    # ASCII digits only: int() would also take other scripts' digits (a Bengali four, say).
    digits = value.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()):
        raise EnvironmentRefused(f"{name}={value!r} is not a whole number.")
    return _bounded(name, int(value), minimum, maximum)


def env_float(name: str, default: float, *, minimum: float = 0, maximum: float | None = None) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is None or not value.isascii() or number != number or number in (float("inf"), float("-inf")):
        raise EnvironmentRefused(f"{name}={value!r} is not a number.")
    return _bounded(name, number, minimum, maximum)


def _bounded(name: str, number, minimum, maximum):
    if number < minimum or (maximum is not None and number > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise EnvironmentRefused(f"{name}={number} is out of range: it must be at least {minimum}{upper}.")
    return number


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _raw(name)
    if value is None:
        return default
    if value not in choices:
        raise EnvironmentRefused(f"{name}={value!r} is not one of: {', '.join(choices)}.")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (_raw(name) or default).split(",") if item.strip()]


_CURRENCY_AMOUNT = re.compile(r"^(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]+))?$")


def env_currency_amounts(name: str, default: str = "") -> dict[str, int]:
    """Amounts per currency, `usd=500.00,jpy=50000,kwd=150.000`, as {"USD": 50000, "JPY": 50000,
    "KWD": 150000} in Stripe's minor units (core.currencies).

    Each amount is written in the currency itself with exactly Stripe's decimals for it (two for
    USD and HUF, none for JPY, three for KWD), so the unit cannot be mistaken: a bare `usd=50000`,
    which could mean cents, is refused, as are a code Stripe does not take, a code given twice, and
    anything else that is not `code=amount`."""
    raw = _raw(name)
    text = raw if raw is not None else default
    amounts: dict[str, int] = {}
    for entry in (item.strip() for item in text.split(",")):
        if not entry:
            continue
        code, equals, amount = (part.strip() for part in entry.partition("="))
        if not equals:
            raise EnvironmentRefused(f"{name}={text!r}: {entry!r} is not code=amount, like usd=500.00.")
        currency = stripe_currency(code) if code.isascii() and code.isalpha() else None
        if currency is None:
            raise EnvironmentRefused(
                f"{name}={text!r}: {code!r} is not a currency Stripe takes (see docs.stripe.com/currencies)."
            )
        if currency.code in amounts:
            raise EnvironmentRefused(f"{name}={text!r}: {currency.code} is given twice.")
        match = _CURRENCY_AMOUNT.match(amount) if amount.isascii() else None
        fraction = (match.group("fraction") or "") if match else ""
        if match is None or len(fraction) != currency.exponent:
            example = "500" + ("." + "0" * currency.exponent if currency.exponent else "")
            decimals = f"with its {currency.exponent} decimals" if currency.exponent else "without decimals"
            raise EnvironmentRefused(
                f"{name}={text!r}: {code}={amount!r} is not a {currency.code} amount written {decimals}, "
                f"like {code.lower()}={example} (no thousands separators: commas separate the currencies)."
            )
        amounts[currency.code] = int(match.group("whole") + fraction)
    return amounts


def env_require(name: str, value: str, why: str) -> None:
    if not value:
        raise EnvironmentRefused(f"{name} must be set {why}.")
