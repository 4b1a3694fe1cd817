"""Stripe's currency rules: how many decimals an `amount` has, and which amounts Stripe takes.

One table for every room: the money display and parsing (`core.money`), the refund form, the
gateway boundary that sends amounts to Stripe (`payments.gateway`), and the per-currency refund
limits read from the environment (`statstak.environment`). Stripe, not CLDR, decides what an
amount means at Stripe, and CLDR (Babel) disagrees for HUF, ISK, UGX, IDR and others: Babel
counts a HUF payment of Stripe amount 100000 as 100,000 Ft, where Stripe means 1,000.00 Ft.

Source: Stripe's "Supported currencies" page, https://docs.stripe.com/currencies:

- "Supported presentment currencies": the codes in `STRIPE_CURRENCIES`; "currencies are
  two-decimal currencies unless otherwise specified".
- "Zero-decimal currencies" (#zero-decimal): BIF, CLP, DJF, GNF, JPY, KMF, KRW, MGA, PYG, RWF,
  VND, VUV, XAF, XOF, XPF: "to charge 500 JPY, provide an amount value of 500". The page lists UGX
  there too, but its "Special cases" table (below) says UGX amounts are sent with two decimals,
  which is what Stripe's API enforces ("Invalid amount. Currency UGX has become effectively
  zero-decimal and charged amounts must be evenly divisible by 100"), so UGX is a special case here.
- "Three-decimal currencies" (#three-decimal): BHD, JOD, KWD, OMR, TND: the API supports them for
  Payment Intents, Refunds and Disputes, but "these API calls require the least-significant (last)
  digit to be 0 ... 5.124 KWD must be rounded to 5120 or 5130".
- "Special cases" (#special-cases):
  - ISK and UGX "transitioned to a zero-decimal currency, but backward compatibility requires you
    to represent it as a two-decimal value, where the decimal amount is always 00 ... You can't
    charge fractions": exponent 2, every amount a multiple of 100. (For ISK refunds of an older
    fractional payment, Stripe's support article "Deprecation of fractional ISK charges and
    refunds" says to refund the amount rounded down to a whole króna.)
  - HUF and TWD: "Stripe treats HUF [TWD] as a zero-decimal currency for payouts, even though you
    can charge two-decimal amounts. When you create a manual payout ..., you must provide integer
    amounts that are evenly divisible by 100." Charges and refunds keep two decimals; only manual
    payouts (which this portal does not make) need whole units: `payout_step` records it.

A currency Stripe does not list is not taken at Stripe (`stripe_currency` is None): it is refused
in the settings, and the display falls back to CLDR's decimals so that old rows still read.
"""

from dataclasses import dataclass
from decimal import Decimal

# Stripe's presentment currencies (docs.stripe.com/currencies#presentment-currencies), upper case,
# as the page lists them (kept as text so that it reads like the page, not a line a code).
_PRESENTMENT_TEXT = """
    USD AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BIF BMD BND BOB BRL BSD BWP BYN BZD
    CAD CDF CHF CLP CNY COP CRC CVE CZK DJF DKK DOP DZD EGP ETB EUR FJD FKP GBP GEL GIP GMD GNF GTQ
    GYD HKD HNL HTG HUF IDR ILS INR ISK JMD JPY KES KGS KHR KMF KRW KYD KZT LAK LBP LKR LRD LSL MAD
    MDL MGA MKD MMK MNT MOP MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN
    PYG QAR RON RSD RUB RWF SAR SBD SCR SEK SGD SHP SLE SOS SRD STD SZL THB TJS TOP TRY TTD TWD TZS
    UAH UGX UYU UZS VND VUV WST XAF XCD XOF XPF YER ZAR ZMW
"""
_PRESENTMENT = _PRESENTMENT_TEXT.split()

ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# Two decimals in the API, whole units only: the decimals are always 00.
WHOLE_UNITS_IN_TWO_DECIMALS = frozenset({"ISK", "UGX"})
# Two decimals for charges and refunds; manual payouts in whole units only.
WHOLE_UNIT_PAYOUTS = frozenset({"HUF", "TWD"})


@dataclass(frozen=True)
class StripeCurrency:
    """One currency as Stripe's API counts it."""

    code: str  # ISO 4217, upper case (Stripe's API wants it lower case: `code.lower()`)
    exponent: int  # decimals in an `amount`: 1000 is 10.00 USD, 10 JPY, 1.000 KWD
    step: int  # every charge or refund amount is a multiple of this many minor units
    payout_step: int  # the same for a manual payout (HUF and TWD: whole units)

    @property
    def decimals_allowed(self) -> int:
        """How many decimals a charge or refund may have: 0 for JPY and ISK, 2 for KWD and USD."""
        return self.exponent - (len(str(self.step)) - 1)


def _currency(code: str) -> StripeCurrency:
    if code in ZERO_DECIMAL:
        return StripeCurrency(code, exponent=0, step=1, payout_step=1)
    if code in THREE_DECIMAL:
        return StripeCurrency(code, exponent=3, step=10, payout_step=10)
    if code in WHOLE_UNITS_IN_TWO_DECIMALS:
        return StripeCurrency(code, exponent=2, step=100, payout_step=100)
    if code in WHOLE_UNIT_PAYOUTS:
        return StripeCurrency(code, exponent=2, step=1, payout_step=100)
    return StripeCurrency(code, exponent=2, step=1, payout_step=1)


STRIPE_CURRENCIES: dict[str, StripeCurrency] = {
    code: _currency(code) for code in sorted({*_PRESENTMENT, *THREE_DECIMAL})
}


def stripe_currency(code: str) -> StripeCurrency | None:
    """Stripe's rules for a currency code (any case), or None when Stripe does not take it."""
    return STRIPE_CURRENCIES.get(code.strip().upper()) if isinstance(code, str) else None


def _decimal_text(amount: int, currency: StripeCurrency, digits: int) -> str:
    return f"{Decimal(amount).scaleb(-currency.exponent):.{digits}f}"


def stripe_amount_problem(amount: int, code: str) -> str:
    """Why Stripe would refuse `amount` (minor units) in `code` for a charge or a refund, in words
    a staff member can act on; "" when Stripe takes it."""
    currency = stripe_currency(code)
    if currency is None:
        return f"Stripe does not take payments in {code.upper()!s}."
    if amount <= 0:
        return "Enter an amount greater than zero."
    if amount % currency.step == 0:
        return ""
    lower = amount - amount % currency.step
    upper = lower + currency.step
    options = " or ".join(_decimal_text(n, currency, currency.decimals_allowed) for n in (lower, upper) if n > 0)
    typed = _decimal_text(amount, currency, currency.exponent)
    return f"{stripe_decimals_rule(currency)}: use {options} {currency.code} instead of {typed}."


def stripe_decimals_rule(currency: StripeCurrency) -> str:
    """The rule on decimals, in words, for a currency whose amounts have fewer than its exponent."""
    if currency.decimals_allowed == 0:
        return f"Stripe takes whole {currency.code} amounts only, no fractions"
    return f"Stripe takes {currency.code} amounts to {currency.decimals_allowed} decimals only (the third must be 0)"
