from django import forms

from core.forms import WholeNumberField
from core.money import MoneyParseError, money_parse
from payments.models import Payment
from refunds.models import Refund
from refunds.selectors import refund_credits_suggested

REASON_CHOICES = [("", "Choose a reason…"), *Refund.Reason.choices]


class RefundForm(forms.Form):
    """The refund modal. Amounts are typed as decimals in the payment's currency ("12.50")."""

    type = forms.ChoiceField(label="Type", choices=Refund.Type.choices, widget=forms.RadioSelect)
    amount = forms.CharField(label="Amount", required=False, max_length=24)
    reason = forms.ChoiceField(label="Reason", choices=REASON_CHOICES, error_messages={"required": "Choose a reason."})
    note = forms.CharField(label="Note", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
    credits_to_remove = WholeNumberField(
        label="Also remove purchased credits",
        required=False,
        min_value=0,
        max_value=10**12,
        error_messages={"invalid": "Enter a whole number of credits.", "min_value": "Credits cannot be negative."},
    )
    notify_customer = forms.BooleanField(label="Notify the customer by SMS", required=False)
    idempotency_key = forms.RegexField(regex=r"^[A-Za-z0-9_-]{16,64}$", widget=forms.HiddenInput)
    expected_reserved = WholeNumberField(min_value=0, widget=forms.HiddenInput)
    # The credits the form first suggested removing (a full refund's). Sent back unchanged, they were
    # not chosen by anyone: they are worked out again for the type and amount submitted, as the
    # page's JavaScript does while the amount is typed (it empties this once the field is edited).
    credits_suggested = WholeNumberField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args, payment: Payment, **kwargs):
        super().__init__(*args, **kwargs)
        self.payment = payment
        if payment.credits_bought == 0:
            self.fields["type"].choices = [c for c in Refund.Type.choices if c[0] != Refund.Type.CREDITS]

    def rebase(self, *, expected_reserved: int) -> None:
        """After a stale refusal: the next submit is judged against what is reserved now (the
        numbers the form shows again), and what the staff member typed stays in the form."""
        self.data = self.data.copy()
        self.data["expected_reserved"] = str(expected_reserved)

    def clean(self) -> dict:
        cleaned = super().clean()
        refund_type = cleaned.get("type")
        if refund_type in (Refund.Type.PARTIAL, Refund.Type.CREDITS):
            raw = self.data.get("amount", "")
            if not str(raw).strip():
                self.add_error("amount", "Enter the amount to refund.")
            else:
                try:
                    cleaned["amount"] = money_parse(str(raw), self.payment.currency)
                except MoneyParseError as error:
                    self.add_error("amount", str(error))
                else:
                    if cleaned["amount"] <= 0:
                        self.add_error("amount", "Enter an amount greater than zero.")
        else:
            cleaned["amount"] = None
        if problem := Refund.note_problem(reason=cleaned.get("reason", ""), note=cleaned.get("note", "")):
            self.add_error("note", problem)
        if refund_type == Refund.Type.CREDITS or cleaned.get("credits_to_remove") is None:
            cleaned["credits_to_remove"] = 0
        elif (
            cleaned.get("credits_suggested") is not None
            and cleaned["credits_to_remove"] == cleaned["credits_suggested"]
        ):
            cleaned["credits_to_remove"] = refund_credits_suggested(payment=self.payment, amount=cleaned.get("amount"))
        return cleaned


class RefundDecisionForm(forms.Form):
    """Approve (no reason needed) or reject (a reason required, checked by the service)."""

    reason = forms.CharField(required=False, max_length=1000, strip=True)
