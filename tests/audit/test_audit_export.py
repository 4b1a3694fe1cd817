"""The audit CSV export neutralises spreadsheet formulas (OWASP, CSV injection)."""

import csv
import io

import pytest
from django.urls import reverse

from accounts.audit import AccountAction
from audit.export import csv_safe
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def exported_rows(admin_client, **filters) -> list[list[str]]:
    response = admin_client.get(reverse("audit_export"), filters)
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(admin_client, start):
    formula = f'{start}HYPERLINK("https://evil.example","click")'
    AuditEvent.objects.create(
        action=AccountAction.LOGIN_FAILED,
        actor_label=formula,
        user_agent=formula,
        correlation_id=f"{start}0123456789",
        after={"username": formula},
    )
    header, *rows = exported_rows(admin_client, action=AccountAction.LOGIN_FAILED)
    [row] = rows
    cells = dict(zip(header, row, strict=True))
    for column in ("actor", "user_agent", "correlation_id"):
        assert cells[column].startswith("'" + start), column
    # JSON cells start with "{" and stay readable as they are.
    assert cells["after"].startswith("{")


def test_plain_cells_and_numbers_are_left_as_they_are(admin_client):
    event = AuditEvent.objects.create(action=AccountAction.LOGOUT, actor_label="Ada Admin", user_agent="Mozilla/5.0")
    _, *rows = exported_rows(admin_client, action=AccountAction.LOGOUT)
    [row] = rows
    assert row[0] == str(event.pk) and "Ada Admin" in row and "Mozilla/5.0" in row
    assert csv_safe(-5) == -5 and csv_safe("5") == "5"


def reference_lines(events) -> list[list[str]]:
    """The export as it was written from model instances, before it read tuples: the content
    must not change."""
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    out = []
    for event in events:
        out.append(
            [
                str(csv_safe(value))
                for value in [
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
                ]
            ]
        )
    return out


def test_the_export_writes_every_field_as_before_newest_first(admin_client, monkeypatch):
    import audit.export
    from tests.factories import CustomerFactory

    monkeypatch.setattr(audit.export, "EXPORT_CHUNK_ROWS", 2)  # several round trips of the cursor
    customer = CustomerFactory()
    AuditEvent.objects.create(action=AccountAction.LOGOUT, actor_label='Ada, "the" Admin', user_agent="Mozilla/5.0")
    AuditEvent.objects.create(
        action=AccountAction.LOGIN_FAILED,
        target_user=customer,
        before={"credits": 5, "note": "Zo\u00eb\u2019s \u00e9t\u00e9"},
        after=[1, -2.5, None, "x"],
        ip_address="203.0.113.9",
        correlation_id="abc",
        about_type_id=None,
    )
    AuditEvent.objects.create(action=AccountAction.LOGIN_FAILED, after=-5, ip_address="2001:db8::1")
    header, *rows = exported_rows(admin_client)
    expected = reference_lines(AuditEvent.objects.order_by("-created_at", "-id"))
    assert header[0] == "id"
    assert rows == expected  # the export's own event (recorded before it streams) is the first line
    assert "'-5" in [cell for row in rows for cell in row]  # a negative JSON number is a formula start
