"""The audit log as CSV, a row at a time: a million events never sit in memory."""

import csv
import json
from collections.abc import Iterator

from django.core.serializers.json import DjangoJSONEncoder

from audit.selectors import AUDIT_CSV_COLUMNS, AuditFilter, audit_events

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection): a
# user agent an anonymous visitor chose, or a name, could otherwise run in an auditor's Excel.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A text cell that a spreadsheet would read as a formula, prefixed with a quote so it reads as
    text; numbers and other cells unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def audit_csv_lines(*, filters: AuditFilter) -> Iterator[str]:
    """The header, then one line per event matching `filters`, newest first."""
    writer = csv.writer(_Echo())
    yield writer.writerow(AUDIT_CSV_COLUMNS)
    for event in audit_events(filters=filters).iterator(chunk_size=2000):
        yield writer.writerow(
            map(
                csv_safe,
                [
                    event.pk,
                    event.created_at.isoformat(),
                    event.actor_label,
                    event.actor_id or "",
                    event.action,
                    event.target_user_id or "",
                    f"{event.about_type_id}:{event.about_id}" if event.about_id else "",
                    json.dumps(event.before, cls=DjangoJSONEncoder) if event.before is not None else "",
                    json.dumps(event.after, cls=DjangoJSONEncoder) if event.after is not None else "",
                    event.ip_address or "",
                    event.user_agent,
                    event.correlation_id,
                ],
            )
        )
