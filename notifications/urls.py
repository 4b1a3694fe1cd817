from django.urls import path

from notifications import webhooks

urlpatterns = [
    path("webhooks/twilio/sms/<int:message_id>/status/", webhooks.twilio_sms_status, name="twilio_sms_status"),
]
