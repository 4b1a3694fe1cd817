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
