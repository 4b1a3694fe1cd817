from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import AuditEvent, User
from accounts.roles import ROLES
from accounts.selectors import AuditFilter


class StaffAuthenticationForm(AuthenticationForm):
    """Django's login form, refusing accounts that are not staff."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "not_staff": "This account is not a staff account. The portal is for StatStak Labs staff only.",
    }

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not user.is_staff:
            raise forms.ValidationError(self.error_messages["not_staff"], code="not_staff")


class UserSearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=settings.USER_SEARCH_MAX_LENGTH,
        error_messages={
            "max_length": "Search terms can be at most %(limit_value)d characters long.",
        },
    )
    after = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


class TwilioStatusCallbackForm(forms.Form):
    """The fields of Twilio's message status callback that the portal uses (it sends more)."""

    MessageSid = forms.CharField(max_length=64)
    MessageStatus = forms.CharField(max_length=32)
    ErrorCode = forms.CharField(max_length=16, required=False)


class AuditFilterForm(forms.Form):
    """The Audit log's filters; all optional."""

    staff = forms.ModelChoiceField(
        label="Staff member",
        required=False,
        empty_label="Any staff member",
        queryset=User.objects.filter(is_staff=True).order_by("first_name"),
    )
    customer = forms.CharField(label="Customer email", required=False, max_length=254)
    action = forms.ChoiceField(label="Action", required=False, choices=[("", "Any action"), *AuditEvent.Action.choices])
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean(self) -> dict:
        cleaned = super().clean()
        email = cleaned.get("customer", "").strip()
        cleaned["customer_user"] = None
        if email:
            cleaned["customer_user"] = User.objects.filter(email__iexact=email).first()
            if cleaned["customer_user"] is None:
                self.add_error("customer", "No user has that email address.")
        for name in ("since", "until"):
            if cleaned.get(name) and not 2000 <= cleaned[name].year <= 2999:
                self.add_error(name, "Enter a date between the years 2000 and 2999.")
                cleaned[name] = None
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] > cleaned["until"]:
            self.add_error("until", "The end date is before the start date.")
        return cleaned

    def filters(self) -> AuditFilter:
        data = self.cleaned_data
        return AuditFilter(
            actor_id=data["staff"].pk if data.get("staff") else None,
            target_user_id=data["customer_user"].pk if data.get("customer_user") else None,
            action=data.get("action", ""),
            since=data.get("since"),
            until=data.get("until"),
        )


class StaffUpdateForm(forms.Form):
    member = forms.IntegerField(min_value=1)
    role = forms.ChoiceField(required=False, choices=[("", "No role"), *[(role, role) for role in ROLES]])
    is_active = forms.BooleanField(required=False)
