"""Template filters of the refund dialog."""

from django import template

from refunds.models import Refund
from refunds.selectors_dialog import refund_reference as _refund_reference
from refunds.selectors_dialog import sms_is_final as _sms_is_final

register = template.Library()


@register.filter
def refund_reference(refund: Refund) -> str:
    """{{ refund|refund_reference }} → "RF-000123", the reference staff quote to a customer."""
    return _refund_reference(refund)


@register.filter
def sms_is_final(message) -> bool:
    """{% if sms|sms_is_final %}: no more news will come about this text message."""
    return _sms_is_final(message)
