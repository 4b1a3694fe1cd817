"""The limits on a staff member's refunds: how often they may submit (a guard rail against runaway
scripts and hands), and, per currency, the approval threshold and the daily cap.

The money limits are set per currency (REFUND_APPROVAL_THRESHOLDS, REFUND_DAILY_CAPS: Stripe's
minor units, read by `statstak.environment.env_currency_amounts`), because one number is not one
amount: 50000 is $500.00, ¥50,000 or 50.000 KWD. A currency not listed takes the single
REFUND_APPROVAL_THRESHOLD / REFUND_DAILY_CAP, in its own minor units: no currency Stripe takes has
a minor unit worth much more than a US cent, so the fallback is never much looser than it reads
in dollars, only stricter (¥50,000 is about $330), and a currency refunded often is listed.
"""

from django import forms
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from core.ratelimit.services import rate_limit_hit

REFUND_SCOPE = "refund_execute"


def refund_rate_limited(*, staff: AbstractBaseUser, form: forms.Form) -> bool:
    """Count one refund submission by `staff`; beyond `REFUND_RATE_LIMIT_PER_MINUTE` a minute, put
    the reason on the form (the refund panel shows it) and return True: the caller answers 429."""
    limit = settings.REFUND_RATE_LIMIT_PER_MINUTE
    if not rate_limit_hit(scope=REFUND_SCOPE, key=str(staff.pk), limit=limit, window_seconds=60):
        return False
    form.add_error(
        None,
        f"Too many refund submissions: at most {limit} a minute per staff member. "
        "Nothing was refunded by this one; wait a minute, then try again.",
    )
    return True


def refund_approval_threshold(*, currency: str) -> int:
    """The approval threshold for refunds in `currency`, in its minor units."""
    return settings.REFUND_APPROVAL_THRESHOLDS.get(currency.upper(), settings.REFUND_APPROVAL_THRESHOLD)


def refund_daily_cap(*, currency: str) -> int:
    """What one staff member may refund in `currency` per UTC day, in its minor units."""
    return settings.REFUND_DAILY_CAPS.get(currency.upper(), settings.REFUND_DAILY_CAP)
