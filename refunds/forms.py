from django import forms

from core.forms import WholeNumberField
from core.money import MoneyParseError, money_format, money_parse
from payments.models import Payment
from refunds.models import Refund
from refunds.selectors import refund_credits_suggested
from refunds.selectors_dialog import refund_type_for_amount

REASON_CHOICES = [("", "Choose a reason…"), *Refund.Reason.choices]


class RefundForm(forms.Form):
    """The refund modal. Amounts are typed as decimals in the payment's currency ("12.50").

    Nothing that moves money is chosen for the staff member: the form opens with no type and no
    amount. The type follows the amount (all that remains is a Full refund, less is Partial;
    choosing Full refund with the amount left empty means all that remains); Account credits is
    its own choice. "Also remove purchased credits" left empty means the suggestion the dialog
    shows beside it for the amount typed (what that much of the payment bought, at most the
    balance); a number is taken as typed.
    """

    type = forms.ChoiceField(label="Type", choices=Refund.Type.choices, widget=forms.RadioSelect, required=False)
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

    # The fields whose errors are shown beside them, in the order of the error summary.
    SUMMARISED = ("type", "amount", "reason", "note", "credits_to_remove")

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

    def remaining_seen(self) -> int | None:
        """What remained refundable when the form was opened (the numbers the staff member saw)."""
        reserved = self.cleaned_data.get("expected_reserved")
        return None if reserved is None else self.payment.amount - reserved

    def _amount_clean(self, cleaned: dict) -> None:
        chosen = cleaned.get("type") or ""
        raw = str(self.data.get("amount", "")).strip()
        remaining = self.remaining_seen()
        currency = self.payment.currency
        if not raw:
            cleaned["amount"] = None
            if chosen == Refund.Type.FULL and remaining is not None:
                cleaned["amount"] = remaining  # Full refund chosen: all that remains
            elif chosen == Refund.Type.CREDITS or chosen == Refund.Type.PARTIAL:
                self.add_error("amount", "Enter the amount to refund.")
            elif remaining is not None:
                self.add_error(
                    "amount",
                    f"Enter the amount to refund (up to {money_format(remaining, currency)}), or choose Full refund.",
                )
            return
        try:
            amount = money_parse(raw, currency)
        except MoneyParseError as error:
            self.add_error("amount", str(error))
            return
        if amount <= 0:
            self.add_error("amount", "Enter an amount greater than zero.")
            return
        if remaining is not None and amount > remaining:
            self.add_error(
                "amount",
                f"That exceeds the remaining amount: at most {money_format(max(remaining, 0), currency)} "
                "can still be refunded on this payment.",
            )
            return
        cleaned["amount"] = amount

    def clean(self) -> dict:
        cleaned = super().clean()
        self._amount_clean(cleaned)
        amount, remaining = cleaned.get("amount"), self.remaining_seen()
        if remaining is not None and "type" not in self.errors:
            # The type follows the amount: what the staff member sees checked is what is sent.
            cleaned["type"] = refund_type_for_amount(
                chosen=cleaned.get("type") or "", amount=amount, remaining=remaining
            ) or (cleaned.get("type") or "")
        if problem := Refund.note_problem(reason=cleaned.get("reason", ""), note=cleaned.get("note", "")):
            self.add_error("note", problem)
        if cleaned.get("type") == Refund.Type.CREDITS:
            cleaned["credits_to_remove"] = 0
        elif cleaned.get("credits_to_remove") is None and "credits_to_remove" not in self.errors:
            # Left empty: the suggestion shown beside the field for this amount.
            cleaned["credits_to_remove"] = (
                refund_credits_suggested(payment=self.payment, amount=amount) if amount else 0
            )
        return cleaned

    def errors_summary(self) -> list[tuple[str, str, str]]:
        """(field id, label, message) for each field error, in the form's order: the summary at
        the top of a form that failed links each to its field."""
        rows = []
        for name in self.SUMMARISED:
            for message in self.errors.get(name, []):
                rows.append((f"id_{name}", str(self.fields[name].label), message))
        return rows


class RefundPreviewForm(RefundForm):
    """The same fields, read for the preview while the form is being filled in: no reason, note
    or key is needed yet, and a field that does not parse yet is simply not previewed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("reason", "idempotency_key"):
            self.fields[name].required = False


class RefundDecisionForm(forms.Form):
    """Approve (no reason needed) or reject (a reason required, checked by the service)."""

    reason = forms.CharField(required=False, max_length=1000, strip=True)
