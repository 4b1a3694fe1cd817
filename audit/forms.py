from django import forms
from django.contrib.auth import get_user_model
from django.db.models.functions import Lower

from audit.actions import audit_action_choices
from audit.selectors import AuditFilter
from core.forms import PlainSelect, WholeNumberField


class AuditFilterForm(forms.Form):
    """The Audit log's filters; all optional."""

    # PlainSelect: dozens of options, each a template with Django's own Select.
    staff = forms.ModelChoiceField(
        label="Staff member", required=False, empty_label="Any staff member", queryset=None, widget=PlainSelect
    )
    customer = forms.CharField(label="Customer email", required=False, max_length=254)
    action = forms.ChoiceField(label="Action", required=False, widget=PlainSelect)
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    before = WholeNumberField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only what an option shows (str(user): the name, else the email): a whole User would also
        # parse each one's phone number.
        staff = get_user_model().objects.filter(is_staff=True).only("first_name", "last_name", "email")
        self.fields["staff"].queryset = staff.order_by("first_name")
        # Read when the form is made: every app has registered its actions by then.
        self.fields["action"].choices = [("", "Any action"), *audit_action_choices()]

    def clean(self) -> dict:
        cleaned = super().clean()
        email = cleaned.get("customer", "").strip()
        cleaned["customer_user"] = None
        if email:
            # lower(email), as the unique index has it: `iexact` (UPPER) would read the whole table.
            users = get_user_model().objects.alias(email_lower=Lower("email"))
            cleaned["customer_user"] = users.filter(email_lower=email.lower()).first()
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
