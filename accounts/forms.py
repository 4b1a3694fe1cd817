from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm

from accounts.roles import ROLES
from accounts.services import NOTE_MAX_LENGTH
from core.forms import WholeNumberField


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
    after = WholeNumberField(required=False, min_value=1, max_value=2**63 - 1)


class StaffUpdateForm(forms.Form):
    member = WholeNumberField(min_value=1)
    role = forms.ChoiceField(required=False, choices=[("", "No role"), *[(role, role) for role in ROLES]])
    is_active = forms.BooleanField(required=False)


class CustomerNoteForm(forms.Form):
    text = forms.CharField(
        max_length=NOTE_MAX_LENGTH,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": NOTE_MAX_LENGTH}),
        error_messages={
            "required": "Write the note before adding it.",
            "max_length": "A note can be at most %(limit_value)d characters long.",
        },
    )
