"""The books: every invariant of the money system checked at once, in set-based queries.

The top room but for statstak: it reads what payments, refunds, notifications and audit write,
and writes nothing of theirs. `manage.py verify_ledger` runs the check; a daily job keeps each
result, and Finance sees the last one on the Books page.
"""
