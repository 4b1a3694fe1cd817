"""How often a staff member may submit refunds: a guard rail against runaway scripts and hands."""

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
