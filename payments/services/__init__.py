"""Writes to customers' money and credits, one module per concern.

- `ledger`: the append-only ledger (`ledger_append`) and the payments the gateway reports.
- `credits`: the Credits editor (`credits_adjust`): Support's limits, four-eyes, no self-service.
- `disputes`: a bank's dispute of a payment, as the gateway reports it; a lost one in the ledger.
- `credit_requests`: large credit changes approved or rejected by a second staff member.
- `locks`: the advisory locks these take, and their order.

Callers import from here.
"""

from payments.services.credit_requests import CreditChangeStale, credit_change_approve, credit_change_reject
from payments.services.credits import CreditsSelfService, credits_adjust
from payments.services.disputes import dispute_record_from_notice
from payments.services.ledger import (
    CreditsConflict,
    CreditsRefused,
    ledger_append,
    payment_record_from_gateway,
    payment_record_from_notice,
)

__all__ = [
    "CreditChangeStale",
    "CreditsConflict",
    "CreditsRefused",
    "CreditsSelfService",
    "credit_change_approve",
    "credit_change_reject",
    "credits_adjust",
    "dispute_record_from_notice",
    "ledger_append",
    "payment_record_from_gateway",
    "payment_record_from_notice",
]
