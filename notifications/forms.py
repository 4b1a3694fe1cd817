from django import forms


class TwilioStatusCallbackForm(forms.Form):
    """The fields of Twilio's message status callback that the portal uses (it sends more)."""

    MessageSid = forms.CharField(max_length=64)
    MessageStatus = forms.CharField(max_length=32)
    ErrorCode = forms.CharField(max_length=16, required=False)
