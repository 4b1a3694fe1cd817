from django import forms
from django.contrib.auth import get_user_model

from core.currencies import STRIPE_CURRENCIES
from core.money import MoneyParseError, money_parse
from refunds.models import Refund
from refunds.selectors_list import RefundCursor, RefundListFilter


class RefundListFilterForm(forms.Form):
    """The Refunds page's filters; all optional. Amounts are typed in the currency's major units
    ("12.50"), so an amount range needs a currency."""

    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status"), *Refund.Status.choices])
    staff = forms.ModelChoiceField(label="Staff member", required=False, empty_label="Any staff member", queryset=None)
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    currency = forms.ChoiceField(
        label="Currency", required=False, choices=[("", "Any currency"), *((code, code) for code in STRIPE_CURRENCIES)]
    )
    type = forms.ChoiceField(label="Type", required=False, choices=[("", "Any type"), *Refund.Type.choices])
    amount_min = forms.CharField(label="Amount from", required=False, max_length=32)
    amount_max = forms.CharField(label="Amount to", required=False, max_length=32)
    after = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = get_user_model().objects.filter(is_staff=True).order_by("first_name", "id")

    def clean(self) -> dict:
        cleaned = super().clean()
        for name in ("since", "until"):
            if cleaned.get(name) and not 2000 <= cleaned[name].year <= 2999:
                self.add_error(name, "Enter a date between the years 2000 and 2999.")
                cleaned[name] = None
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] > cleaned["until"]:
            self.add_error("until", "The end date is before the start date.")
        currency = cleaned.get("currency", "")
        for name in ("amount_min", "amount_max"):
            text = (cleaned.get(name) or "").strip()
            cleaned[name] = None
            if not text:
                continue
            if not currency:
                self.add_error(name, "Choose a currency to filter by amount.")
                continue
            try:
                cleaned[name] = money_parse(text, currency)
            except MoneyParseError as error:
                self.add_error(name, str(error))
        low, high = cleaned.get("amount_min"), cleaned.get("amount_max")
        if low is not None and high is not None and low > high:
            self.add_error("amount_max", "The highest amount is below the lowest.")
        token = (cleaned.get("after") or "").strip()
        cleaned["cursor"] = RefundCursor.parse(token) if token else None
        if token and cleaned["cursor"] is None:
            self.add_error(None, "That page link is not valid: start again from the newest refunds.")
        return cleaned

    def filters(self) -> RefundListFilter:
        data = self.cleaned_data
        return RefundListFilter(
            status=data.get("status", ""),
            staff_id=data["staff"].pk if data.get("staff") else None,
            since=data.get("since"),
            until=data.get("until"),
            currency=data.get("currency", ""),
            type=data.get("type", ""),
            amount_min=data.get("amount_min"),
            amount_max=data.get("amount_max"),
        )
