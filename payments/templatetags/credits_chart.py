"""{% credits_chart customer as chart %}: the Overview's credits chart from the ledger.

A template tag because the Overview's view lives in accounts, which may not import payments
(docs/architecture.md): the profile's Overview includes payments/credits_chart.html, which asks
payments for its data here."""

from django import template

from payments.selectors_chart import CreditsChart
from payments.selectors_chart import credits_chart as _credits_chart

register = template.Library()


@register.simple_tag
def credits_chart(customer) -> CreditsChart:
    return _credits_chart(user=customer)
