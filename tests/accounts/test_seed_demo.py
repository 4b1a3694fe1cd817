import pytest
from django.core.management import CommandError, call_command

from accounts.demo import STAFF_EMAIL, STAFF_PASSWORD
from accounts.models import User

pytestmark = pytest.mark.django_db


def test_it_creates_customers_with_elijah_herrick_and_a_staff_login(capsys):
    call_command("seed_demo", users=200)
    output = capsys.readouterr().out
    assert User.objects.filter(is_staff=False).count() == 200
    elijah = User.objects.get(email="elijah.herrick@example.com")
    assert (elijah.first_name, elijah.last_name, elijah.is_staff) == ("Elijah", "Herrick", False)
    assert str(elijah.phone).startswith("+1")
    staff = User.objects.get(email=STAFF_EMAIL)
    assert staff.is_staff and staff.check_password(STAFF_PASSWORD)
    assert f"Staff login: {STAFF_EMAIL} / {STAFF_PASSWORD}" in output


def test_demo_customers_are_valid_and_cannot_log_in():
    call_command("seed_demo", users=300)
    customers = User.objects.filter(is_staff=False)
    for customer in customers:
        customer.full_clean(exclude=["password"])
        assert not customer.has_usable_password()
    assert customers.filter(phone="").count() < 50
    assert customers.filter(credits__gt=0).exists()
    assert customers.values("date_joined").distinct().count() > 250


def test_running_it_twice_does_not_duplicate():
    call_command("seed_demo", users=150)
    call_command("seed_demo", users=150)
    assert User.objects.filter(is_staff=False).count() == 150
    assert User.objects.filter(email=STAFF_EMAIL).count() == 1


def test_asking_for_more_adds_only_the_missing_customers():
    call_command("seed_demo", users=100)
    first = set(User.objects.values_list("email", flat=True))
    call_command("seed_demo", users=180)
    after = set(User.objects.values_list("email", flat=True))
    assert first < after
    assert User.objects.filter(is_staff=False).count() == 180


def test_it_refuses_a_nonsensical_count():
    with pytest.raises(CommandError, match="--users must be between"):
        call_command("seed_demo", users=0)
    assert not User.objects.exists()


def test_it_adds_a_few_staff_notes_once_and_a_customer_found_by_phone():
    from accounts.models import CustomerNote
    from accounts.selectors_search import user_search

    call_command("seed_demo", users=50)
    call_command("seed_demo", users=50)
    elijah = User.objects.get(email="elijah.herrick@example.com")
    assert CustomerNote.objects.filter(user=elijah).count() == 2
    assert CustomerNote.objects.count() == 3
    # The help article's customer is found by his number as staff type it.
    assert elijah in user_search(query="(202) 555 0143").users


def test_it_adds_an_open_and_a_won_dispute_once_and_the_books_still_verify(capsys):
    from payments.models import Dispute

    call_command("seed_demo", users=100)
    assert "Added 2 disputes (one open, one won)." in capsys.readouterr().out
    call_command("seed_demo", users=100)

    disputes = {dispute.gateway_dispute_id: dispute for dispute in Dispute.objects.select_related("payment__user")}
    assert {key: dispute.status for key, dispute in disputes.items()} == {
        "du_demo_open": "needs_response",
        "du_demo_won": "won",
    }
    assert disputes["du_demo_open"].evidence_due_at is not None
    assert disputes["du_demo_open"].payment.user_id != disputes["du_demo_won"].payment.user_id
    assert disputes["du_demo_open"].payment.user.email != "elijah.herrick@example.com"
    call_command("verify_ledger")
