from django import forms


class CreditsForm(forms.Form):
    """The Credits editor: the new balance, the balance the staff member saw, an optional note."""

    # The upper limit is the service's to enforce (CREDITS_MAX_BALANCE, read at call time).
    credits = forms.IntegerField(
        min_value=0,
        error_messages={
            "required": "Enter the new number of credits.",
            "invalid": "Enter a whole number of credits, like 120.",
            "min_value": "Credits cannot be negative.",
        },
    )
    expected_balance = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    note = forms.CharField(required=False, max_length=500, strip=True)

    def clean_credits(self) -> int:
        # IntegerField would accept "12.0" as 12; a credit count is typed as a whole number.
        raw = str(self.data.get("credits", "")).strip()
        if "." in raw:
            raise forms.ValidationError(self.fields["credits"].error_messages["invalid"], code="invalid")
        return self.cleaned_data["credits"]


class HistoryPageForm(forms.Form):
    before = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
