"""Staff notes on a customer: added from the Overview, append-only, audited, escaped."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from accounts.audit import AccountAction
from accounts.models import CustomerNote
from accounts.selectors import customer_notes
from audit.models import AuditEvent
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def note_post(client, customer, text, *, htmx=False):
    headers = {"HX-Request": "true", "HX-Target": "customer-notes"} if htmx else {}
    return client.post(reverse("customer_note_create", args=[customer.pk]), {"text": text}, headers=headers)


def test_a_note_is_saved_with_its_author_and_audited(staff_client, staff, customer):
    response = note_post(staff_client, customer, "  Called about the March invoice.  ")

    assert response.status_code == 302
    note = CustomerNote.objects.get(user=customer)
    assert (note.text, note.author) == ("Called about the March invoice.", staff)
    event = AuditEvent.objects.get(action=AccountAction.NOTE_ADDED)
    assert (event.actor, event.target_user, event.about) == (staff, customer, note)
    # The audit event names the note; the text lives only in the note (one place to erase it).
    assert "March" not in str(event.after)


def test_the_overview_shows_the_latest_notes_newest_first(staff_client, staff, customer):
    for n in range(7):
        CustomerNote.objects.create(user=customer, author=staff, text=f"note number {n}")

    html = staff_client.get(reverse("user_detail", args=[customer.pk])).content.decode()

    assert "note number 6" in html and "note number 2" in html
    assert "note number 1" not in html  # the latest five
    assert html.index("note number 6") < html.index("note number 2")
    assert "Adam Hobson" in html


def test_an_htmx_add_returns_the_notes_region_with_the_new_note(staff_client, customer):
    response = note_post(staff_client, customer, "Prefers email.", htmx=True)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card customer-notes" id="customer-notes"')
    assert "Prefers email." in html and "Note added." in html


@pytest.mark.parametrize(("text", "message"), [("   ", "Write the note before adding it."), ("x" * 2001, "at most")])
def test_an_empty_or_too_long_note_is_refused_and_nothing_is_written(staff_client, customer, text, message):
    response = note_post(staff_client, customer, text, htmx=True)

    assert response.status_code == 422
    assert message in response.content.decode()
    assert not CustomerNote.objects.exists()
    assert not AuditEvent.objects.filter(action=AccountAction.NOTE_ADDED).exists()


def test_a_note_is_shown_escaped(staff_client, customer):
    note_post(staff_client, customer, '<script>alert("x")</script><b>bold</b>')

    html = staff_client.get(reverse("user_detail", args=[customer.pk])).content.decode()

    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<b>bold</b>" not in html


def test_staff_without_the_permission_cannot_add_a_note(viewer_client, customer):
    # No role: not even the profile (staff_required); the matrix covers every role.
    response = note_post(viewer_client, customer, "Sneaky.")

    assert response.status_code == 403
    assert not CustomerNote.objects.exists()


def test_the_form_is_hidden_from_staff_who_may_not_add_notes(client, customer):
    from django.contrib.auth.models import Permission

    from tests.factories import StaffFactory

    reader = StaffFactory(passwordless=True)  # view_user only
    client.force_login(reader)
    html = client.get(reverse("user_detail", args=[customer.pk])).content.decode()
    assert "Staff notes" in html and "Add note" not in html
    reader.user_permissions.add(Permission.objects.get(codename="add_customernote"))
    client.force_login(reader)
    assert "Add note" in client.get(reverse("user_detail", args=[customer.pk])).content.decode()


def test_the_database_refuses_to_edit_or_delete_a_note(staff, customer):
    note = CustomerNote.objects.create(user=customer, author=staff, text="Original.")

    for sql in (
        "UPDATE accounts_customernote SET text = 'Rewritten' WHERE id = %s",
        "DELETE FROM accounts_customernote WHERE id = %s",
    ):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [note.pk])

    assert CustomerNote.objects.get(pk=note.pk).text == "Original."


def test_an_erasure_setting_for_another_customer_does_not_open_the_guard(staff, customer):
    note = CustomerNote.objects.create(user=customer, author=staff, text="Original.")
    other = CustomerFactory()

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statstak.erasing_user', %s, true)", [str(other.pk)])
        cursor.execute("UPDATE accounts_customernote SET text = 'x' WHERE id = %s", [note.pk])


def test_the_selector_gives_every_note_or_the_latest_few(staff, customer):
    notes = [CustomerNote.objects.create(user=customer, author=staff, text=f"n{n}") for n in range(3)]
    CustomerNote.objects.create(user=CustomerFactory(), author=staff, text="someone else's")

    assert customer_notes(user=customer) == notes[::-1]
    assert customer_notes(user=customer, limit=2) == notes[:0:-1]
