"""The search bar's jump to a refund, by the gateway's id (re_…) or the portal's reference
(RF-000123): to its payment, marked on the customer's Payments tab (registered in accounts.lookup)."""

import re

from accounts.lookup import Jump
from payments.lookup import payment_highlighted_url
from refunds.models import Refund

REFUND_ID = re.compile(r"^(?:re|pyr)_[A-Za-z0-9_]{3,250}$")
REFERENCE = re.compile(r"^RF-?(\d{1,18})$", re.IGNORECASE)


def refund_jump(text: str) -> Jump | None:
    if REFUND_ID.match(text):
        # The partial unique index on gateway_refund_id (refund_unique_gateway_refund_id).
        refunds = Refund.objects.exclude(gateway_refund_id="").filter(gateway_refund_id=text)
    elif match := REFERENCE.match(text):
        pk = int(match.group(1))
        if not 0 < pk < 2**63:
            return Jump.missing()
        refunds = Refund.objects.filter(pk=pk)
    else:
        return None
    refund = refunds.values("payment_id", "payment__user_id").first()
    if refund is None:
        return Jump.missing()
    return Jump(url=payment_highlighted_url(user_id=refund["payment__user_id"], payment_id=refund["payment_id"]))
