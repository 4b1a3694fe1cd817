"""The books: every invariant of the money system checked at once, in set-based queries, and the
portal's refunds compared with each payment gateway's own list of them.

The top room but for statstak: it reads what payments, refunds, notifications and audit write,
and writes nothing of theirs but the refunds the drift report finds made at a gateway alone, which
it records through refunds' own service. `manage.py verify_ledger` runs the check and
`manage.py reconcile_gateway` the drift report; daily jobs keep each result, and Finance sees the
last ones on the Books page.
"""
