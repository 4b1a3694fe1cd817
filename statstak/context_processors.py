from django.conf import settings
from django.http import HttpRequest


def integrations(request: HttpRequest) -> dict:
    """The active payment gateway and SMS backend, shown in the page header."""
    return {
        "active_gateway": settings.PAYMENT_GATEWAY,
        "active_sms_backend": settings.SMS_BACKEND,
    }
