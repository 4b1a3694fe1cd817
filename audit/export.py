"""The audit log as CSV, a row at a time: a million events never sit in memory."""

import csv
import io
import json
from collections.abc import Iterator

from django.core.serializers.json import DjangoJSONEncoder

from audit.selectors import AUDIT_CSV_COLUMNS, AuditFilter, audit_events

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection): a
# user agent an anonymous visitor chose, or a name, could otherwise run in an auditor's Excel.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows fetched per round trip from the server-side cursor: large enough that the round trips do
# not count, small enough that memory stays flat (a few MB) whatever the export's size.
EXPORT_CHUNK_ROWS = 10_000
EXPORT_LINES_PER_CHUNK = 1_000
# The columns read for a line, in AUDIT_CSV_COLUMNS order (tuples, not model instances: building
# an AuditEvent per row was most of the export's time).
_FIELDS = (
    "id",
    "created_at",
    "actor_label",
    "actor_id",
    "action",
    "target_user_id",
    "about_type_id",
    "about_id",
    "before",
    "after",
    "ip_address",
    "user_agent",
    "correlation_id",
)


def csv_safe(value: object) -> object:
    """A text cell that a spreadsheet would read as a formula, prefixed with a quote so it reads as
    text; numbers and other cells unchanged."""
    if value and isinstance(value, str) and value[0] in _FORMULA_FIRST:
        return "'" + value
    return value


_FORMULA_FIRST = frozenset(FORMULA_STARTS)


def _json(value: object) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder) if value is not None else ""


def audit_csv_lines(*, filters: AuditFilter) -> Iterator[str]:
    """The header, then one line per event matching `filters`, newest first, yielded a block of
    EXPORT_LINES_PER_CHUNK lines at a time (a chunk per line made the server write each to the
    socket on its own).

    The cells a person or a client could choose (names, action, JSON, user agent, correlation id)
    go through `csv_safe`; ids, times and addresses cannot start a formula and are written as
    they are.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(AUDIT_CSV_COLUMNS)
    safe = csv_safe
    rows = audit_events(filters=filters).select_related(None).values_list(*_FIELDS)
    for n, (
        pk,
        created_at,
        actor_label,
        actor_id,
        action,
        target_user_id,
        about_type_id,
        about_id,
        before,
        after,
        ip_address,
        user_agent,
        correlation_id,
    ) in enumerate(rows.iterator(chunk_size=EXPORT_CHUNK_ROWS), 1):
        writer.writerow(
            (
                pk,
                created_at.isoformat(),
                safe(actor_label),
                actor_id or "",
                safe(action),
                target_user_id or "",
                f"{about_type_id}:{about_id}" if about_id else "",
                safe(_json(before)),
                safe(_json(after)),
                ip_address or "",
                safe(user_agent),
                safe(correlation_id),
            )
        )
        if n % EXPORT_LINES_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
