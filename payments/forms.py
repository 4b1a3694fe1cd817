from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format

from core.forms import WholeNumberField
from payments.models import CreditChangeRequest
from payments.services import CreditsConflict


class CreditsForm(forms.Form):
    """The Credits editor: the new balance, the balance the staff member saw, an optional note."""

    # The upper limit is the service's to enforce (CREDITS_MAX_BALANCE, read at call time).
    # ASCII digits only (WholeNumberField): "12.0", "1e3" or a Bengali four are not a credit count.
    credits = WholeNumberField(
        min_value=0,
        error_messages={
            "required": "Enter the new number of credits.",
            "invalid": "Enter a whole number of credits, like 120.",
            "min_value": "Credits cannot be negative.",
        },
    )
    expected_balance = WholeNumberField(min_value=0, widget=forms.HiddenInput)
    note = forms.CharField(required=False, max_length=500, strip=True)

    def rebase(self, *, expected_balance: int) -> None:
        """After a conflict: the next save is judged against the balance shown now, and what the
        staff member typed stays in the form."""
        self.data = self.data.copy()
        self.data["expected_balance"] = str(expected_balance)


def credits_conflict_message(conflict: CreditsConflict) -> str:
    """What the Credits editor says when the balance moved under it: who moved it, when, and to what."""
    who = ""
    if conflict.last_entry is not None:
        actor = conflict.last_entry.actor
        name = actor.full_name if actor else "the system"
        when = date_format(timezone.localtime(conflict.last_entry.created_at), "M j, H:i")
        who = f" ({name}, {when} UTC)"
    return (
        f"Someone else changed these credits while you were editing{who}. "
        f"The balance is now {conflict.current_balance:,}. Check it, then save again."
    )


def credit_change_requested_message(change: CreditChangeRequest) -> str:
    """What the Credits editor says when a change is large enough to need a second person."""
    return (
        f"Requested: {change.balance_before:,} → {change.new_balance:,} credits is a change of more than "
        f"{settings.CREDITS_APPROVAL_THRESHOLD:,}, so a second person must approve it on the Approvals page. "
        "Nothing has changed yet."
    )


class HistoryPageForm(forms.Form):
    before = WholeNumberField(required=False, min_value=1, max_value=2**63 - 1)


class CreditChangeDecisionForm(forms.Form):
    """Approve (no reason needed) or reject (a reason required, checked by the service)."""

    reason = forms.CharField(required=False, max_length=1000, strip=True)
