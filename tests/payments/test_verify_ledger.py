import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from payments.services import credits_adjust
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_it_passes_when_every_balance_matches(customer, staff, capsys):
    credits_adjust(user=customer, new_balance=30, expected_balance=0, actor=staff)
    CustomerFactory()  # no history, balance 0: fine
    call_command("verify_ledger")
    assert "every balance matches its ledger" in capsys.readouterr().out


def test_it_fails_and_lists_a_balance_the_ledger_does_not_explain(customer, staff, capsys):
    credits_adjust(user=customer, new_balance=30, expected_balance=0, actor=staff)
    drifted = CustomerFactory()
    User.objects.filter(pk=drifted.pk).update(credits=99)  # a write that bypassed the ledger
    User.objects.filter(pk=customer.pk).update(credits=31)
    with pytest.raises(CommandError, match="2 users do not match their ledger"):
        call_command("verify_ledger")
    output = capsys.readouterr().out
    assert f"user {drifted.pk}: balance 99, ledger sum 0" in output
    assert f"user {customer.pk}: balance 31, ledger sum 30, latest balance_after 30" in output


def test_seed_demo_data_passes(capsys):
    call_command("seed_demo", users=300)
    call_command("verify_ledger")
    assert "Checked 302 users" in capsys.readouterr().out  # 300 customers, Adam and Fran
